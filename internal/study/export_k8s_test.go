package study

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// strictDecode decodes an exported manifest as the API server does with strict field validation: YAML into the
// batch/v1 Job of k8s.io/api, an unknown or duplicate field, a field name in the wrong case or a bad quantity being
// an error.
func strictDecode(path string) (*batchv1.Job, error) {
	scheme := runtime.NewScheme()
	if err := batchv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	s := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	obj, _, err := s.Decode(raw, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, fmt.Errorf("%s decodes to %T, not a batch/v1 Job", filepath.Base(path), obj)
	}
	return job, nil
}

func decodeJob(t *testing.T, path string) *batchv1.Job {
	t.Helper()
	job, err := strictDecode(path)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// validateJob applies the API server's rules for a new Job that bear on what the export writes. They are those of
// k8s.io/kubernetes' pkg/apis/batch/validation (ValidateJob, validateJobSpec, validatePodFailurePolicyRule) and
// the parts of pkg/apis/core/validation the template meets; that package is not imported because it needs all of
// k8s.io/kubernetes (with a replace directive per staging module). The metadata and label checks are
// apimachinery's own.
func validateJob(job *batchv1.Job) field.ErrorList {
	meta := job.ObjectMeta.DeepCopy()
	meta.Namespace = "default" // kubectl fills it in
	errs := apivalidation.ValidateObjectMeta(meta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec, path := job.Spec, field.NewPath("spec")
	// The Job controller labels every pod with the Job's name: a label value, at most 63 characters.
	for _, msg := range validation.IsValidLabelValue(job.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name, msg))
	}
	nonNegative := func(p *int32, name string) {
		if p != nil && *p < 0 {
			errs = append(errs, field.Invalid(path.Child(name), *p, "must be greater than or equal to 0"))
		}
	}
	nonNegative(spec.Parallelism, "parallelism")
	nonNegative(spec.Completions, "completions")
	nonNegative(spec.BackoffLimit, "backoffLimit")
	nonNegative(spec.BackoffLimitPerIndex, "backoffLimitPerIndex")
	nonNegative(spec.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	switch {
	case indexed && spec.Completions == nil:
		errs = append(errs, field.Required(path.Child("completions"), "when completion mode is Indexed"))
	case indexed && *spec.Completions > 0:
		// The pods' hostnames are "<name>-<index>": DNS-1123 labels.
		host := fmt.Sprintf("%s-%d", job.Name, *spec.Completions-1)
		if msgs := validation.IsDNS1123Label(host); len(msgs) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name, "will not be able to create pod with invalid DNS label: "+host))
		}
	case !indexed && spec.BackoffLimitPerIndex != nil:
		errs = append(errs, field.Invalid(path.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
	}
	if indexed && spec.Parallelism != nil && *spec.Parallelism > 100000 {
		errs = append(errs, field.Invalid(path.Child("parallelism"), *spec.Parallelism, "must be less than or equal to 100000"))
	}
	pod := spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		errs = append(errs, field.NotSupported(path.Child("template", "spec", "restartPolicy"), pod.RestartPolicy, []string{"OnFailure", "Never"}))
	}
	if spec.PodFailurePolicy != nil {
		if pod.RestartPolicy != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(path.Child("template", "spec", "restartPolicy"), pod.RestartPolicy, `only "Never" is supported when podFailurePolicy is specified`))
		}
		errs = append(errs, validateFailurePolicy(spec, path.Child("podFailurePolicy", "rules"))...)
	}
	errs = append(errs, metavalidation.ValidateLabels(spec.Template.Labels, path.Child("template", "metadata", "labels"))...)
	return append(errs, validatePodSpec(pod, path.Child("template", "spec"))...)
}

func validateFailurePolicy(spec batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	var containers []string
	for _, c := range spec.Template.Spec.Containers {
		containers = append(containers, c.Name)
	}
	for i, r := range spec.PodFailurePolicy.Rules {
		p := path.Index(i)
		switch r.Action {
		case batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(p.Child("action"), r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyActionCount:
		default:
			errs = append(errs, field.NotSupported(p.Child("action"), r.Action, []string{"Count", "FailIndex", "FailJob", "Ignore"}))
		}
		if (r.OnExitCodes == nil) == (len(r.OnPodConditions) == 0) {
			errs = append(errs, field.Invalid(p, "", "specifying exactly one of OnExitCodes and OnPodConditions is required"))
		}
		if e := r.OnExitCodes; e != nil {
			if e.Operator != batchv1.PodFailurePolicyOnExitCodesOpIn && e.Operator != batchv1.PodFailurePolicyOnExitCodesOpNotIn {
				errs = append(errs, field.NotSupported(p.Child("onExitCodes", "operator"), e.Operator, []string{"In", "NotIn"}))
			}
			if e.ContainerName != nil && !slices.Contains(containers, *e.ContainerName) {
				errs = append(errs, field.Invalid(p.Child("onExitCodes", "containerName"), *e.ContainerName, "must be one of the container names"))
			}
			if len(e.Values) == 0 || !slices.IsSorted(e.Values) || len(slices.Compact(slices.Clone(e.Values))) != len(e.Values) ||
				(e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && slices.Contains(e.Values, 0)) {
				errs = append(errs, field.Invalid(p.Child("onExitCodes", "values"), e.Values, "must be non-empty, ordered, unique, and without 0 for In"))
			}
		}
		for j, c := range r.OnPodConditions {
			for _, msg := range validation.IsQualifiedName(string(c.Type)) {
				errs = append(errs, field.Invalid(p.Child("onPodConditions").Index(j).Child("type"), c.Type, msg))
			}
			if c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown {
				errs = append(errs, field.NotSupported(p.Child("onPodConditions").Index(j).Child("status"), c.Status, []string{"False", "True", "Unknown"}))
			}
		}
	}
	return errs
}

// validatePodSpec checks the template's containers, volumes, environment, resources and security context.
func validatePodSpec(pod corev1.PodSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for i, v := range pod.Volumes {
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			errs = append(errs, field.Invalid(path.Child("volumes").Index(i).Child("name"), v.Name, msg))
		}
		if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(path.Child("volumes").Index(i).Child("persistentVolumeClaim", "claimName"), ""))
		}
		volumes[v.Name] = true
	}
	if len(pod.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), ""))
	}
	for i, c := range pod.Containers {
		p := path.Child("containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
		if c.Image == "" || len(c.Command) == 0 {
			errs = append(errs, field.Required(p.Child("image"), "an image and a command"))
		}
		for j, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(p.Child("env").Index(j).Child("name"), e.Name, msg))
			}
		}
		for j, m := range c.VolumeMounts {
			if !volumes[m.Name] || !strings.HasPrefix(m.MountPath, "/") {
				errs = append(errs, field.Invalid(p.Child("volumeMounts").Index(j), m, "must name a volume and an absolute path"))
			}
		}
		for name, q := range c.Resources.Requests {
			if limit, ok := c.Resources.Limits[name]; ok && q.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(p.Child("resources", "requests").Key(string(name)), q.String(), "must be less than or equal to the limit"))
			}
		}
	}
	if sc := pod.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			errs = append(errs, field.Invalid(path.Child("securityContext", "runAsUser"), 0, "runAsNonRoot with user 0 cannot start"))
		}
		if p := sc.FSGroupChangePolicy; p != nil && *p != corev1.FSGroupChangeOnRootMismatch && *p != corev1.FSGroupChangeAlways {
			errs = append(errs, field.NotSupported(path.Child("securityContext", "fsGroupChangePolicy"), *p, []string{"OnRootMismatch", "Always"}))
		}
	}
	return errs
}

// TestK8sManifestsDecodeAndValidate decodes every exported Job strictly into k8s.io/api's batch/v1 Job, applies the
// API server's Job rules (validateJob) and checks the fields the export promises: indexed completion, one index
// per grid point (the sweep in a Job of its own, the rest offset past it), parallelism, the index reaching the
// program, the claim, resources, per-index retries with the failure policy, TTL and the security context.
func TestK8sManifestsDecodeAndValidate(t *testing.T) {
	out := t.TempDir()
	g := sweptGrid()
	g.Data.Dir = "/shared/data/mnist"
	o := ExportOptions{Dir: "/shared/bnzoo/order", Parallelism: 3, CPUs: 4, MemoryGiB: 6, PVC: "lab-nfs", Image: "registry.example/bnzoo:1", UID: 2000}
	if _, err := Export(out, g, o); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file, name       string
		from, n, par     int32
		collect          bool
		cpu, mem, offset string
	}{
		{K8sSweepFile, "bnzoo-order-quick-sweep", 0, 4, 3, false, "4", "6Gi", ""},
		{K8sJobFile, "bnzoo-order-quick", 4, 2, 2, false, "4", "6Gi", "4"},
		{K8sCollectFile, "bnzoo-order-quick-collect", 0, 1, 1, true, "1", "1Gi", ""},
	} {
		job := decodeJob(t, filepath.Join(out, c.file))
		if errs := validateJob(job); len(errs) > 0 {
			t.Errorf("%s: the API server would refuse it: %v", c.file, errs.ToAggregate())
		}
		s := job.Spec
		pod := s.Template.Spec
		if job.Name != c.name || *s.Completions != c.n || *s.Parallelism != c.par || *s.TTLSecondsAfterFinished != k8sTTLSeconds {
			t.Errorf("%s: name %s, completions %d, parallelism %d, ttl %d", c.file, job.Name, *s.Completions, *s.Parallelism, *s.TTLSecondsAfterFinished)
		}
		if len(pod.Containers) != 1 || len(pod.Volumes) != 1 || pod.Volumes[0].PersistentVolumeClaim.ClaimName != "lab-nfs" {
			t.Fatalf("%s: pod %+v", c.file, pod)
		}
		ct := pod.Containers[0]
		if m := ct.VolumeMounts; len(m) != 1 || m[0].MountPath != "/shared" || ct.Image != o.Image {
			t.Errorf("%s: mounts %+v, image %s; want the claim at /shared (holding the study and the data)", c.file, m, ct.Image)
		}
		if ct.Resources.Requests.Cpu().String() != c.cpu || ct.Resources.Requests.Memory().String() != c.mem || ct.Resources.Limits.Memory().String() != c.mem {
			t.Errorf("%s: resources %+v, want %s CPUs and %s", c.file, ct.Resources, c.cpu, c.mem)
		}
		env := map[string]corev1.EnvVar{}
		for _, e := range ct.Env {
			env[e.Name] = e
		}
		if env["GOMAXPROCS"].Value != c.cpu || env["OMP_WAIT_POLICY"].Value != "passive" {
			t.Errorf("%s: env %+v", c.file, ct.Env)
		}
		sc := pod.SecurityContext
		if sc == nil || *sc.RunAsUser != 2000 || *sc.FSGroup != 2000 || !*sc.RunAsNonRoot || *sc.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch ||
			ct.SecurityContext == nil || *ct.SecurityContext.AllowPrivilegeEscalation || pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: security %+v %+v, restart %s", c.file, sc, ct.SecurityContext, pod.RestartPolicy)
		}
		rules := s.PodFailurePolicy.Rules
		if len(rules) != 2 || rules[1].Action != batchv1.PodFailurePolicyActionIgnore || rules[1].OnPodConditions[0].Type != corev1.DisruptionTarget {
			t.Errorf("%s: failure policy %+v", c.file, rules)
		}
		if c.collect {
			if s.CompletionMode != nil || *s.BackoffLimit != 1 || rules[0].Action != batchv1.PodFailurePolicyActionFailJob ||
				!slices.Equal(rules[0].OnExitCodes.Values, []int32{2, ExitIncomplete}) ||
				!slices.Equal(ct.Command, []string{"bnzoo-study", "collect", "-dir", o.Dir, "-complete"}) {
				t.Errorf("%s: spec %+v, command %v", c.file, s, ct.Command)
			}
			continue
		}
		want := []string{"bnzoo-study", "run-index", "-dir", o.Dir, "-index", "$(" + K8sIndexVar + ")"}
		if c.offset != "" {
			want = append(want, "-index-offset", c.offset)
		}
		if *s.CompletionMode != batchv1.IndexedCompletion || *s.BackoffLimitPerIndex != k8sRetriesPerIndex || s.BackoffLimit != nil ||
			rules[0].Action != batchv1.PodFailurePolicyActionFailIndex || !slices.Equal(rules[0].OnExitCodes.Values, []int32{2}) ||
			!slices.Equal(ct.Command, want) {
			t.Errorf("%s: spec %+v, command %v; want %v", c.file, s, ct.Command, want)
		}
		if f := env[K8sIndexVar].ValueFrom; f == nil || f.FieldRef.FieldPath != "metadata.annotations['"+batchv1.JobCompletionIndexAnnotation+"']" {
			t.Errorf("%s: the index does not reach the program: %+v", c.file, env[K8sIndexVar])
		}
	}
}

// TestValidateJobCatchesWhatTheServerRefuses makes sure that validateJob is no rubber stamp: each edit of a valid
// exported Job is one the API server refuses.
func TestValidateJobCatchesWhatTheServerRefuses(t *testing.T) {
	out := t.TempDir()
	if _, err := Export(out, sweptGrid(), ExportOptions{Dir: "/shared/bnzoo/order"}); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*batchv1.Job){
		"upper-case name":      func(j *batchv1.Job) { j.Name = "My_Study" },
		"hostname over 63":     func(j *batchv1.Job) { j.Name = strings.Repeat("a", 62) },
		"no completions":       func(j *batchv1.Job) { j.Spec.Completions = nil },
		"per-index, unindexed": func(j *batchv1.Job) { j.Spec.CompletionMode = nil },
		"FailIndex, no limit":  func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = nil },
		"policy with OnFailure": func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		},
		"exit code 0 with In": func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{0, 2} },
		"unknown container":   func(j *batchv1.Job) { j.Spec.PodFailurePolicy.Rules[0].OnExitCodes.ContainerName = ptr("main") },
		"root with non-root":  func(j *batchv1.Job) { j.Spec.Template.Spec.SecurityContext.RunAsUser = ptr(int64(0)) },
		"mount of no volume":  func(j *batchv1.Job) { j.Spec.Template.Spec.Volumes[0].Name = "other" },
	} {
		job := decodeJob(t, filepath.Join(out, K8sJobFile))
		if errs := validateJob(job); len(errs) > 0 {
			t.Fatalf("the exported Job: %v", errs.ToAggregate())
		}
		edit(job)
		if errs := validateJob(job); len(errs) == 0 {
			t.Errorf("%s: validateJob accepts it", name)
		}
	}
	// Strict decoding refuses a field the API does not have.
	bad := filepath.Join(out, "bad.yaml")
	raw, _ := os.ReadFile(filepath.Join(out, K8sJobFile))
	os.WriteFile(bad, []byte(strings.Replace(string(raw), "backoffLimitPerIndex:", "backoffLimitPerIndexes:", 1)), 0o644)
	if _, err := strictDecode(bad); err == nil || !strings.Contains(err.Error(), "backoffLimitPerIndexes") {
		t.Errorf("strict decoding of an unknown field: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
