package study

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Files written by Export next to grid.json (docs/cluster.md tells how to use them).
const (
	SlurmSubmitFile  = "slurm-submit.sh"
	SlurmArrayFile   = "slurm-array.sh"
	SlurmCollectFile = "slurm-collect.sh"
	K8sSubmitFile    = "k8s-submit.sh"
	K8sSweepFile     = "k8s-sweep.yaml" // only for a grid whose points after the sweep need its result
	K8sJobFile       = "k8s-job.yaml"
	K8sCollectFile   = "k8s-collect.yaml"
	// SlurmLogsDir is the folder of the Slurm tasks' logs, in the study directory.
	SlurmLogsDir = "slurm-logs"
	// K8sIndexVar and SlurmIndexVar are the variables that carry the task index into the per-index command.
	K8sIndexVar   = "JOB_COMPLETION_INDEX"
	SlurmIndexVar = "SLURM_ARRAY_TASK_ID"
	// SlurmSignalLead is how long before its time limit a Slurm task is told to checkpoint and requeue itself.
	SlurmSignalLead = 5 * time.Minute
	// ExitIncomplete is the exit status of "collect -complete" when grid points have no result; the exported
	// collect jobs use it, so that the scheduler shows a partial grid as a failed collect job.
	ExitIncomplete = 3
	sweepSuffix    = "-sweep"
)

// ExportOptions describe the cluster side of an export.
type ExportOptions struct {
	// Dir is the study directory as the tasks see it (on shared storage); grid.json is read from there and every
	// task writes its run directory under it.
	Dir string
	// Command is the study program as the tasks run it (default "bnzoo-study", the binary of examples/study:
	// go build -o bnzoo-study ./examples/study).
	Command string
	// Name names the Jobs and job arrays (default bnzoo-<experiment>-<budget>): a DNS-1123 label short enough
	// for its pods' hostnames, "<name>-<index>".
	Name string
	// Parallelism is how many tasks run at once (0: all).
	Parallelism int
	// CPUs and MemoryGiB each training task requests (defaults 2 and 8); TimeLimit is Slurm's --time of each
	// (default 24:00:00; at least twice SlurmSignalLead). The collect jobs ask for 1 CPU and 1 GiB.
	CPUs      int
	MemoryGiB int
	TimeLimit string
	// Image is the container image holding Command (Kubernetes; default bnzoo:latest); PVC the
	// PersistentVolumeClaim of the shared storage, mounted at MountPath (default the parent of Dir, or the
	// deepest directory holding Dir and the data). DataInImage says that the image holds the grid's data, which
	// then need not be under MountPath. UID is the user, group and fsGroup the pods run as (default 1000).
	Image, PVC, MountPath string
	DataInImage           bool
	UID                   int
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
	if o.UID == 0 {
		o.UID = 1000
	}
	return o
}

// RunIndexArgs is the per-index command line (without the program): run grid point index of the study in dir.
func RunIndexArgs(dir, index string) []string {
	return []string{"run-index", "-dir", dir, "-index", index}
}

// CollectArgs is the command line (without the program) that aggregates the study in dir and fails (status
// ExitIncomplete) when a grid point has no result.
func CollectArgs(dir string) []string { return []string{"collect", "-dir", dir, "-complete"} }

// exportFile is one file Export writes.
type exportFile struct {
	name string
	data []byte
	mode os.FileMode
}

// Export writes g and the scheduler files into out (a local path; the tasks see it as o.Dir): grid.json; for Slurm
// a job array (slurm-array.sh: task i runs grid point i), its collect job (slurm-collect.sh) and the script that
// submits them in order (slurm-submit.sh); for Kubernetes the Indexed Jobs (k8s-sweep.yaml for the learning-rate
// sweep when later points need it, k8s-job.yaml), the collect Job (k8s-collect.yaml) and the script that applies
// them in order (k8s-submit.sh). It returns the files written. A bad option is an *ExportOptionError naming it.
func Export(out string, g *Grid, o ExportOptions) ([]string, error) {
	if o.Dir == "" {
		o.Dir = out
	}
	if !filepath.IsAbs(o.Dir) {
		return nil, optionError("dir", "the study directory the tasks see must be an absolute path, got %q", o.Dir)
	}
	o.Dir = filepath.Clean(o.Dir)
	for _, v := range []struct {
		option string
		value  int
	}{{"parallelism", o.Parallelism}, {"cpus", o.CPUs}, {"memory", o.MemoryGiB}, {"uid", o.UID}} {
		if v.value < 0 {
			return nil, optionError(v.option, "must not be negative, got %d", v.value)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults(g)
	n, sweep := len(g.Points()), g.SweepPoints()
	if err := checkName(o.Name, n, sweep); err != nil {
		return nil, err
	}
	if err := checkTime(o.TimeLimit); err != nil {
		return nil, err
	}
	if err := o.resolveMount(g.Runs(o.Dir), g.Data.Dir); err != nil {
		return nil, err
	}
	files, err := k8sFiles(o, n, sweep)
	if err != nil {
		return nil, err
	}
	files = append(slurmFiles(o, n, sweep), files...)
	if err := WriteGrid(out, g); err != nil {
		return nil, err
	}
	// The logs folder must exist before the tasks start, or Slurm fails them at launch with no log at all;
	// slurm-submit.sh creates it too, for an export written elsewhere and copied.
	if err := os.MkdirAll(filepath.Join(out, SlurmLogsDir), 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	written := []string{filepath.Join(out, GridFile)}
	stale := filepath.Join(out, K8sSweepFile) // from an earlier export of a grid that had a sweep split
	if sweep >= n {
		if err := os.Remove(stale); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
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
