package study

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Files written by Export next to grid.json.
const (
	K8sJobFile       = "k8s-job.yaml"
	K8sCollectFile   = "k8s-collect.yaml"
	SlurmArrayFile   = "slurm-array.sh"
	SlurmCollectFile = "slurm-collect.sh"
	// K8sIndexVar and SlurmIndexVar are the variables that carry the task index into the per-index command.
	K8sIndexVar   = "JOB_COMPLETION_INDEX"
	SlurmIndexVar = "SLURM_ARRAY_TASK_ID"
)

// ExportOptions describe the cluster side of an export.
type ExportOptions struct {
	// Dir is the study directory as the tasks see it (on shared storage); grid.json is read from there and every
	// task writes its run directory under it.
	Dir string
	// Command is the study program as the tasks run it (default "bnzoo-study", the binary of examples/study:
	// go build -o bnzoo-study ./examples/study).
	Command string
	// Name names the Job / job array (default bnzoo-<experiment>-<budget>).
	Name string
	// Parallelism is how many tasks run at once (0: all).
	Parallelism int
	// CPUs and MemoryGiB each task requests (defaults 2 and 8); TimeLimit is Slurm's --time (default 24:00:00).
	CPUs      int
	MemoryGiB int
	TimeLimit string
	// Image is the container image holding Command (Kubernetes; default bnzoo:latest); PVC the
	// PersistentVolumeClaim of the shared storage, mounted at MountPath (default the parent of Dir).
	Image, PVC, MountPath string
}

func (o ExportOptions) withDefaults(g *Grid) ExportOptions {
	if o.Command == "" {
		o.Command = "bnzoo-study"
	}
	if o.Name == "" {
		o.Name = "bnzoo"
		for _, s := range []string{g.Experiment, g.Budget} {
			if s != "" {
				o.Name += "-" + s
			}
		}
	}
	if o.CPUs == 0 {
		o.CPUs = 2
	}
	if o.MemoryGiB == 0 {
		o.MemoryGiB = 8
	}
	if o.TimeLimit == "" {
		o.TimeLimit = "24:00:00"
	}
	if o.Image == "" {
		o.Image = "bnzoo:latest"
	}
	if o.PVC == "" {
		o.PVC = "bnzoo-shared"
	}
	if o.MountPath == "" {
		o.MountPath = filepath.Dir(filepath.Clean(o.Dir))
	}
	return o
}

// RunIndexArgs is the per-index command line (without the program): run grid point index of the study in dir.
func RunIndexArgs(dir, index string) []string {
	return []string{"run-index", "-dir", dir, "-index", index}
}

// CollectArgs is the command line (without the program) that aggregates the study in dir.
func CollectArgs(dir string) []string { return []string{"collect", "-dir", dir} }

// Export writes g and the scheduler files into out (a local path; the tasks see it as o.Dir): grid.json, a
// Kubernetes Indexed Job (k8s-job.yaml: completion index i runs grid point i) with a collect Job
// (k8s-collect.yaml), and a Slurm job array (slurm-array.sh: array task i runs grid point i) with its collect
// script (slurm-collect.sh). It returns the files written.
func Export(out string, g *Grid, o ExportOptions) ([]string, error) {
	if o.Dir == "" {
		o.Dir = out
	}
	if !filepath.IsAbs(o.Dir) {
		return nil, fmt.Errorf("export: the study directory the tasks see must be an absolute path, got %q", o.Dir)
	}
	if o.Parallelism < 0 || o.CPUs < 0 || o.MemoryGiB < 0 {
		return nil, fmt.Errorf("export: parallelism, cpus and memory must not be negative")
	}
	o = o.withDefaults(g)
	if err := WriteGrid(out, g); err != nil {
		return nil, err
	}
	n := len(g.Points())
	job, err := k8sJob(o, n)
	if err != nil {
		return nil, err
	}
	collect, err := k8sCollectJob(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(out, "slurm-logs"), 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{K8sJobFile, job, 0o644},
		{K8sCollectFile, collect, 0o644},
		{SlurmArrayFile, []byte(slurmArray(o, n, g.SweepPoints())), 0o755},
		{SlurmCollectFile, []byte(slurmCollect(o)), 0o755},
	}
	written := []string{filepath.Join(out, GridFile)}
	for _, f := range files {
		path := filepath.Join(out, f.name)
		if err := atomicfile.Write(path, f.data); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		if err := os.Chmod(path, f.mode); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		written = append(written, path)
	}
	return written, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellLine(cmd string, args []string) string {
	parts := []string{shellQuote(cmd)}
	for _, a := range args {
		if strings.HasPrefix(a, "${") {
			parts = append(parts, `"`+a+`"`) // a variable to expand
			continue
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func slurmHeader(o ExportOptions, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n#SBATCH --job-name=%s\n", name)
	fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n#SBATCH --mem=%dG\n#SBATCH --time=%s\n", o.CPUs, o.MemoryGiB, o.TimeLimit)
	return b.String()
}

// slurmArray is the job-array script: array task i runs grid point i. When the grid sweeps learning rates on some
// seeds only, its points from index sweep on need the sweep's result, so the submission line submits the sweep
// first and the rest with a dependency on it.
func slurmArray(o ExportOptions, n, sweep int) string {
	var b strings.Builder
	b.WriteString(slurmHeader(o, o.Name))
	par := ""
	if o.Parallelism > 0 {
		par = "%" + strconv.Itoa(o.Parallelism)
	}
	fmt.Fprintf(&b, "#SBATCH --array=0-%d%s\n", n-1, par)
	fmt.Fprintf(&b, "#SBATCH --output=%s/slurm-logs/%%A_%%a.out\n", o.Dir)
	submit := fmt.Sprintf("jid=$(sbatch --parsable %s) && sbatch --dependency=afterany:$jid %s", SlurmArrayFile, SlurmCollectFile)
	if sweep < n {
		submit = fmt.Sprintf("jid=$(sbatch --parsable --array=0-%d%s %s) && \\\n#     jid2=$(sbatch --parsable --array=%d-%d%s --dependency=afterany:$jid %s) && \\\n#     sbatch --dependency=afterany:$jid2 %s\n"+
			"# (indices 0-%d are the learning-rate sweep; the others run at each configuration's chosen rate and\n"+
			"# fail with a message naming the missing sweep points if started before it has finished)",
			sweep-1, par, SlurmArrayFile, sweep, n-1, par, SlurmArrayFile, SlurmCollectFile, sweep-1)
	}
	fmt.Fprintf(&b, `#
# bnzoo study: %d grid points in %s, written by "%s export".
# Submit, then aggregate when every task has ended:
#   %s
# A task that finds its point finished exits at once; one that finds it half done resumes it, so resubmitting
# the array (or single indices: sbatch --array=3,7 %s) is always safe.
set -euo pipefail
export OMP_WAIT_POLICY=passive
export GOMAXPROCS="${SLURM_CPUS_PER_TASK:-%d}"
`, n, o.Dir, o.Command, submit, SlurmArrayFile, o.CPUs)
	b.WriteString("exec " + shellLine(o.Command, RunIndexArgs(o.Dir, "${"+SlurmIndexVar+"}")) + "\n")
	return b.String()
}

func slurmCollect(o ExportOptions) string {
	var b strings.Builder
	b.WriteString(slurmHeader(o, o.Name+"-collect"))
	fmt.Fprintf(&b, "#SBATCH --output=%s/slurm-logs/collect-%%j.out\nset -euo pipefail\n", o.Dir)
	b.WriteString("exec " + shellLine(o.Command, CollectArgs(o.Dir)) + "\n")
	return b.String()
}

// k8s manifest types: only the fields the export sets.
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
		CompletionMode string      `yaml:"completionMode,omitempty"`
		Completions    int         `yaml:"completions"`
		Parallelism    int         `yaml:"parallelism"`
		BackoffLimit   int         `yaml:"backoffLimit"`
		Template       k8sTemplate `yaml:"template"`
	}
	k8sTemplate struct {
		Metadata k8sMeta `yaml:"metadata"`
		Spec     k8sPod  `yaml:"spec"`
	}
	k8sPod struct {
		RestartPolicy string         `yaml:"restartPolicy"`
		Containers    []k8sContainer `yaml:"containers"`
		Volumes       []k8sVolume    `yaml:"volumes"`
	}
	k8sContainer struct {
		Name         string        `yaml:"name"`
		Image        string        `yaml:"image"`
		Command      []string      `yaml:"command"`
		Env          []k8sEnv      `yaml:"env"`
		Resources    k8sResources  `yaml:"resources"`
		VolumeMounts []k8sVolMount `yaml:"volumeMounts"`
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

func k8sContainerFor(o ExportOptions, args []string, env []k8sEnv) k8sContainer {
	env = append(env, k8sEnv{Name: "OMP_WAIT_POLICY", Value: "passive"}, k8sEnv{Name: "GOMAXPROCS", Value: strconv.Itoa(o.CPUs)})
	c := k8sContainer{Name: "study", Image: o.Image, Command: append([]string{o.Command}, args...), Env: env,
		Resources: k8sResources{
			Requests: map[string]string{"cpu": strconv.Itoa(o.CPUs), "memory": fmt.Sprintf("%dGi", o.MemoryGiB)},
			Limits:   map[string]string{"memory": fmt.Sprintf("%dGi", o.MemoryGiB)}},
		VolumeMounts: []k8sVolMount{{Name: "shared", MountPath: o.MountPath}}}
	return c
}

func k8sPodFor(o ExportOptions, c k8sContainer) k8sPod {
	v := k8sVolume{Name: "shared"}
	v.PVC.ClaimName = o.PVC
	return k8sPod{RestartPolicy: "Never", Containers: []k8sContainer{c}, Volumes: []k8sVolume{v}}
}

func k8sYAML(header string, obj k8sObject) ([]byte, error) {
	body, err := yaml.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return append([]byte(header), body...), nil
}

// k8sJob is the Indexed Job: completion index i runs grid point i. The index reaches the command through the
// JOB_COMPLETION_INDEX variable, set from the pod's completion-index annotation.
func k8sJob(o ExportOptions, n int) ([]byte, error) {
	idx := k8sEnv{Name: K8sIndexVar, ValueFrom: &k8sValueFrom{}}
	idx.ValueFrom.FieldRef.FieldPath = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
	c := k8sContainerFor(o, RunIndexArgs(o.Dir, "$("+K8sIndexVar+")"), []k8sEnv{idx})
	par := o.Parallelism
	if par == 0 {
		par = n
	}
	labels := map[string]string{"app.kubernetes.io/name": "bnzoo-study"}
	job := k8sObject{APIVersion: "batch/v1", Kind: "Job", Metadata: k8sMeta{Name: o.Name, Labels: labels},
		Spec: k8sJobSpec{CompletionMode: "Indexed", Completions: n, Parallelism: par, BackoffLimit: 2 * n,
			Template: k8sTemplate{Metadata: k8sMeta{Labels: labels}, Spec: k8sPodFor(o, c)}}}
	header := fmt.Sprintf("# bnzoo study: %d grid points in %s; completion index i runs grid point i.\n"+
		"# The claim %s is mounted at %s; the data must be reachable in the pod too (under the mount or in the image).\n"+
		"# kubectl apply -f %s; when it completes (kubectl wait --for=condition=complete job/%s --timeout=-1s):\n"+
		"# kubectl apply -f %s. A pod that finds its point finished exits at once; one that finds it half done resumes it.\n",
		n, o.Dir, o.PVC, o.MountPath, K8sJobFile, o.Name, K8sCollectFile)
	return k8sYAML(header, job)
}

func k8sCollectJob(o ExportOptions) ([]byte, error) {
	c := k8sContainerFor(o, CollectArgs(o.Dir), nil)
	labels := map[string]string{"app.kubernetes.io/name": "bnzoo-study-collect"}
	job := k8sObject{APIVersion: "batch/v1", Kind: "Job", Metadata: k8sMeta{Name: o.Name + "-collect", Labels: labels},
		Spec: k8sJobSpec{Completions: 1, Parallelism: 1, BackoffLimit: 2,
			Template: k8sTemplate{Metadata: k8sMeta{Labels: labels}, Spec: k8sPodFor(o, c)}}}
	return k8sYAML(fmt.Sprintf("# bnzoo study: aggregate %s (summary.md, summary.csv, figures/).\n", o.Dir), job)
}
