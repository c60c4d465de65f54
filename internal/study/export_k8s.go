package study

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kubernetes settings of the exported Jobs.
const (
	// k8sRetriesPerIndex is each index's backoffLimitPerIndex: a failing point is retried this often without
	// ending the others (Kubernetes 1.29 or later).
	k8sRetriesPerIndex = 3
	// k8sTTLSeconds keeps a finished Job, its pods and their logs for a week.
	k8sTTLSeconds = 7 * 24 * 3600
	// k8sGraceSeconds is the time a stopped pod has to finish its step and write its checkpoint.
	k8sGraceSeconds = 120
	// k8sIndexAnnotation holds a pod's completion index.
	k8sIndexAnnotation = "batch.kubernetes.io/job-completion-index"
)

// k8s manifest types: only the fields the export sets, with the API's field names (a test decodes them strictly
// into k8s.io/api's batch/v1 Job).
type (
	k8sObject struct {
		APIVersion string     `yaml:"apiVersion"`
		Kind       string     `yaml:"kind"`
		Metadata   k8sMeta    `yaml:"metadata"`
		Spec       k8sJobSpec `yaml:"spec"`
	}
	k8sMeta struct {
		Name   string            `yaml:"name,omitempty"`
		Labels map[string]string `yaml:"labels,omitempty"`
	}
	k8sJobSpec struct {
		CompletionMode       string           `yaml:"completionMode,omitempty"`
		Completions          int              `yaml:"completions"`
		Parallelism          int              `yaml:"parallelism"`
		BackoffLimit         *int             `yaml:"backoffLimit,omitempty"`
		BackoffLimitPerIndex *int             `yaml:"backoffLimitPerIndex,omitempty"`
		PodFailurePolicy     k8sFailurePolicy `yaml:"podFailurePolicy"`
		TTLSeconds           int              `yaml:"ttlSecondsAfterFinished"`
		Template             k8sTemplate      `yaml:"template"`
	}
	k8sFailurePolicy struct {
		Rules []k8sFailureRule `yaml:"rules"`
	}
	k8sFailureRule struct {
		Action          string            `yaml:"action"`
		OnExitCodes     *k8sExitCodes     `yaml:"onExitCodes,omitempty"`
		OnPodConditions []k8sPodCondition `yaml:"onPodConditions,omitempty"`
	}
	k8sExitCodes struct {
		ContainerName string `yaml:"containerName"`
		Operator      string `yaml:"operator"`
		Values        []int  `yaml:"values"`
	}
	k8sPodCondition struct {
		Type   string `yaml:"type"`
		Status string `yaml:"status"`
	}
	k8sTemplate struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     k8sPod  `yaml:"spec"`
	}
	k8sPod struct {
		RestartPolicy string         `yaml:"restartPolicy"`
		GraceSeconds  int            `yaml:"terminationGracePeriodSeconds"`
		Security      k8sPodSecurity `yaml:"securityContext"`
		Containers    []k8sContainer `yaml:"containers"`
		Volumes       []k8sVolume    `yaml:"volumes"`
	}
	k8sPodSecurity struct {
		RunAsNonRoot        bool   `yaml:"runAsNonRoot"`
		RunAsUser           int    `yaml:"runAsUser"`
		RunAsGroup          int    `yaml:"runAsGroup"`
		FSGroup             int    `yaml:"fsGroup"`
		FSGroupChangePolicy string `yaml:"fsGroupChangePolicy"`
		Seccomp             struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	k8sContainer struct {
		Name         string               `yaml:"name"`
		Image        string               `yaml:"image"`
		Command      []string             `yaml:"command"`
		Env          []k8sEnv             `yaml:"env"`
		Resources    k8sResources         `yaml:"resources"`
		VolumeMounts []k8sVolMount        `yaml:"volumeMounts"`
		Security     k8sContainerSecurity `yaml:"securityContext"`
	}
	k8sContainerSecurity struct {
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	}
	k8sEnv struct {
		Name      string        `yaml:"name"`
		Value     string        `yaml:"value,omitempty"`
		ValueFrom *k8sValueFrom `yaml:"valueFrom,omitempty"`
	}
	k8sValueFrom struct {
		FieldRef struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	}
	k8sResources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	}
	k8sVolMount struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	}
	k8sVolume struct {
		Name string `yaml:"name"`
		PVC  struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	}
)

// k8sSecurity is the pods' security context: a non-root user, with the claim's files group-owned by its group
// (fsGroup, changed only when the volume's root does not have it already, so a big claim is not walked at every
// start), the runtime's seccomp profile; and the container's: no privilege escalation, no capabilities. It meets
// Kubernetes' "restricted" Pod Security Standard.
func k8sSecurity(uid int) (k8sPodSecurity, k8sContainerSecurity) {
	pod := k8sPodSecurity{RunAsNonRoot: true, RunAsUser: uid, RunAsGroup: uid, FSGroup: uid, FSGroupChangePolicy: "OnRootMismatch"}
	pod.Seccomp.Type = "RuntimeDefault"
	var c k8sContainerSecurity
	c.Capabilities.Drop = []string{"ALL"}
	return pod, c
}

// k8sJobFor is a Job running one container of the study program with args, cpus CPUs and memGiB GiB.
func k8sJobFor(o ExportOptions, name, app string, args []string, env []k8sEnv, cpus, memGiB int) k8sObject {
	env = append(env, k8sEnv{Name: "OMP_WAIT_POLICY", Value: "passive"}, k8sEnv{Name: "GOMAXPROCS", Value: strconv.Itoa(cpus)})
	mem := fmt.Sprintf("%dGi", memGiB)
	podSec, cSec := k8sSecurity(o.UID)
	c := k8sContainer{Name: "study", Image: o.Image, Command: append([]string{o.Command}, args...), Env: env,
		Resources:    k8sResources{Requests: map[string]string{"cpu": strconv.Itoa(cpus), "memory": mem}, Limits: map[string]string{"memory": mem}},
		VolumeMounts: []k8sVolMount{{Name: "shared", MountPath: o.MountPath}}, Security: cSec}
	v := k8sVolume{Name: "shared"}
	v.PVC.ClaimName = o.PVC
	labels := map[string]string{"app.kubernetes.io/name": app, "app.kubernetes.io/instance": o.Name}
	return k8sObject{APIVersion: "batch/v1", Kind: "Job", Metadata: k8sMeta{Name: name, Labels: labels},
		Spec: k8sJobSpec{Completions: 1, Parallelism: 1, TTLSeconds: k8sTTLSeconds,
			Template: k8sTemplate{Metadata: k8sMeta{Labels: labels}, Spec: k8sPod{RestartPolicy: "Never",
				GraceSeconds: k8sGraceSeconds, Security: podSec, Containers: []k8sContainer{c}, Volumes: []k8sVolume{v}}}}}
}

// ignoreDisruption does not count a pod stopped by an eviction, a preemption or a node drain as a failure: its
// replacement resumes the point from the checkpoint written on SIGTERM.
var ignoreDisruption = k8sFailureRule{Action: "Ignore", OnPodConditions: []k8sPodCondition{{Type: "DisruptionTarget", Status: "True"}}}

// k8sIndexedJob is the Indexed Job of grid points [from, to): completion index i runs grid point from+i, the
// index reaching the program through JOB_COMPLETION_INDEX (from the pod's completion-index annotation). Each index
// is retried on its own (backoffLimitPerIndex), and an index whose program exits with status 2 (bad flags, no
// grid.json: retrying cannot help) fails at once without ending the others.
func k8sIndexedJob(o ExportOptions, name string, from, to int) k8sObject {
	idx := k8sEnv{Name: K8sIndexVar, ValueFrom: &k8sValueFrom{}}
	idx.ValueFrom.FieldRef.FieldPath = "metadata.annotations['" + k8sIndexAnnotation + "']"
	args := RunIndexArgs(o.Dir, "$("+K8sIndexVar+")")
	if from > 0 {
		args = append(args, "-index-offset", strconv.Itoa(from))
	}
	job := k8sJobFor(o, name, "bnzoo-study", args, []k8sEnv{idx}, o.CPUs, o.MemoryGiB)
	retries := k8sRetriesPerIndex
	job.Spec.CompletionMode, job.Spec.Completions, job.Spec.BackoffLimitPerIndex = "Indexed", to-from, &retries
	job.Spec.Parallelism = to - from
	if o.Parallelism > 0 {
		job.Spec.Parallelism = min(o.Parallelism, to-from)
	}
	job.Spec.PodFailurePolicy.Rules = []k8sFailureRule{
		{Action: "FailIndex", OnExitCodes: &k8sExitCodes{ContainerName: "study", Operator: "In", Values: []int{2}}},
		ignoreDisruption}
	return job
}

// k8sCollectJob aggregates the study: small (1 CPU, 1 GiB), retried once, and failed at once when the grid is
// incomplete (status ExitIncomplete) or the flags are bad (2).
func k8sCollectJob(o ExportOptions) k8sObject {
	job := k8sJobFor(o, o.Name+"-collect", "bnzoo-study-collect", CollectArgs(o.Dir), nil, 1, 1)
	retries := 1
	job.Spec.BackoffLimit = &retries
	job.Spec.PodFailurePolicy.Rules = []k8sFailureRule{
		{Action: "FailJob", OnExitCodes: &k8sExitCodes{ContainerName: "study", Operator: "In", Values: []int{2, ExitIncomplete}}},
		ignoreDisruption}
	return job
}

func k8sYAML(header string, obj k8sObject) ([]byte, error) {
	body, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return append([]byte(header), body...), nil
}

// k8sFiles are the Kubernetes side of an export: the Indexed Jobs (the sweep's in a Job of its own when the
// other points need its result), the collect Job and the script that applies them in order.
func k8sFiles(o ExportOptions, n, sweep int) ([]exportFile, error) {
	type part struct {
		file, name string
		from, to   int
	}
	parts := []part{{K8sJobFile, o.Name, 0, n}}
	if sweep < n {
		parts = []part{{K8sSweepFile, o.Name + sweepSuffix, 0, sweep}, {K8sJobFile, o.Name, sweep, n}}
	}
	var files []exportFile
	var names []string
	for _, p := range parts {
		header := fmt.Sprintf("# bnzoo study %s: completion index i runs grid point %d+i (of %d) in %s.\n"+
			"# The claim %s is mounted at %s. Apply with %s, which applies the Jobs in order; Kubernetes 1.29 or later\n"+
			"# (backoffLimitPerIndex). A pod that finds its point finished exits at once; one that finds it half done resumes it.\n",
			p.name, p.from, n, o.Dir, o.PVC, o.MountPath, K8sSubmitFile)
		data, err := k8sYAML(header, k8sIndexedJob(o, p.name, p.from, p.to))
		if err != nil {
			return nil, err
		}
		files = append(files, exportFile{p.file, data, 0o644})
		names = append(names, p.name)
	}
	data, err := k8sYAML(fmt.Sprintf("# bnzoo study: aggregate %s (summary.md, CSVs, figures/); fails when grid points have no result.\n", o.Dir),
		k8sCollectJob(o))
	if err != nil {
		return nil, err
	}
	files = append(files, exportFile{K8sCollectFile, data, 0o644})
	return append(files, exportFile{K8sSubmitFile, []byte(k8sSubmit(o, parts[0].file, names)), 0o755}), nil
}

// k8sSubmit is the script that runs the study on Kubernetes: it deletes the study's Jobs left from an earlier
// submission (a finished Job cannot be applied again), then applies each training Job once the one before has
// finished and the collect Job last, and prints the collect log. Its wait returns when a Job completes and when it
// fails, which kubectl wait --for=condition=complete does not.
func k8sSubmit(o ExportOptions, first string, names []string) string {
	collect := o.Name + "-collect"
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/bash
# Runs the bnzoo study in %[1]s on Kubernetes (written by "bnzoo-study export"): applies the Jobs in order, each once
# the one before has finished, then the collect Job, and prints its log; exits 1 when the collect Job fails (grid
# points without a result). Arguments go to every kubectl, e.g. %[2]s -n bnzoo. It stays until the end:
# run it with nohup, or in tmux, for a long grid. Run it again to resubmit: it deletes the study's Jobs (their pods
# checkpoint on SIGTERM) and applies them anew; finished points exit at once, interrupted ones resume.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
args=("$@")
# finished waits until Job $1 has completed (status 0) or failed (status 1).
finished() {
  local state
  while :; do
    state=$(kubectl "${args[@]}" get job "$1" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}')
    case " $state " in
      *" Complete "*) echo "job $1 completed"; return 0 ;;
      *" Failed "*) echo "job $1 failed: kubectl describe job $1 (its failed indices are in .status.failedIndexes)" >&2; return 1 ;;
    esac
    sleep 30
  done
}
kubectl "${args[@]}" delete job --ignore-not-found --cascade=foreground --wait %[3]s %[4]s
`, o.Dir, K8sSubmitFile, strings.Join(names, " "), collect)
	files := map[string]string{names[0]: first}
	if len(names) > 1 {
		files[names[1]] = K8sJobFile
	}
	for _, name := range names {
		fmt.Fprintf(&b, "kubectl \"${args[@]}\" apply -f \"$here/%s\"\nfinished %s || true\n", files[name], name)
	}
	fmt.Fprintf(&b, `kubectl "${args[@]}" apply -f "$here/%[1]s"
status=0
finished %[2]s || status=1
kubectl "${args[@]}" logs job/%[2]s || true
exit "$status"
`, K8sCollectFile, collect)
	return b.String()
}
