package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/bnzoo/bnzoo/internal/study"
)

// tiny is a two-point grid on real MNIST that trains in seconds.
var tiny = []string{"-dataset", "mnist", "-activations", "tanh", "-placements", "conventional,swapped", "-seeds", "1",
	"-lrs", "0.1", "-epochs", "1", "-train-per-class", "20", "-test-per-class", "10"}

func runArgs(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return out.String(), err
}

// shellWords splits a generated shell command line: words separated by spaces, '...' quoted literally and "..."
// holding a variable reference (all the export writes).
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		switch line[0] {
		case '\'', '"':
			end := strings.IndexByte(line[1:], line[0])
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			words, line = append(words, line[1:1+end]), line[2+end:]
		default:
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			words, line = append(words, line[:end]), line[end:]
		}
	}
	return words
}

// execLine returns the words of the script's line that runs the study program ("exec bnzoo-study …" or
// "bnzoo-study … &"), without the program.
func execLine(t *testing.T, script string) []string {
	t.Helper()
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSuffix(strings.TrimPrefix(l, "exec "), " &"); strings.HasPrefix(l, "bnzoo-study ") {
			w := shellWords(t, l)
			if w[0] != "bnzoo-study" {
				t.Fatalf("exec line runs %q", w[0])
			}
			return w[1:]
		}
	}
	t.Fatalf("no exec line in\n%s", script)
	return nil
}

func substitute(args []string, from, to string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, from, to)
	}
	return out
}

func readSummaryRows(t *testing.T, dir string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, study.SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}

// TestExportedCommandsRunTheGrid exports a tiny grid twice, runs every per-index command of the Slurm array in one
// study directory and of the Kubernetes Indexed Job in the other, exactly as the scheduler would (index variable
// substituted), then the collect commands, and checks that both give every grid point, the same numbers.
func TestExportedCommandsRunTheGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four tiny models")
	}
	base := t.TempDir()
	slurmDir, k8sDir := filepath.Join(base, "slurm"), filepath.Join(base, "k8s")
	for _, d := range []string{slurmDir, k8sDir} {
		if _, err := runArgs(t, append([]string{"export", "-dir", d, "-parallelism", "1"}, tiny...)...); err != nil {
			t.Fatal(err)
		}
	}

	// Slurm: the array covers exactly the grid's indices; each task's exec line runs its point.
	script, err := os.ReadFile(filepath.Join(slurmDir, study.SlurmArrayFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "#SBATCH --array=0-1%1\n") {
		t.Fatalf("slurm array line missing or wrong:\n%s", script)
	}
	cmd := execLine(t, string(script))
	collectScript, _ := os.ReadFile(filepath.Join(slurmDir, study.SlurmCollectFile))
	collectCmd := execLine(t, string(collectScript))
	for i := range 2 {
		args := substitute(cmd, "${"+study.SlurmIndexVar+"}", strconv.Itoa(i))
		if i == 1 {
			// Interrupted (as by scancel), the task tells a cluster user to resubmit its index.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := run(ctx, args, io.Discard, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), "resubmit index 1 ") || !strings.Contains(err.Error(), "sbatch --array=1 ") {
				t.Fatalf("interrupted task: %v, want it to say how to resubmit index 1", err)
			}
			// The collect job on the partial grid writes the summary of what exists and fails, naming the index.
			out, err := runArgs(t, collectCmd...)
			if !errors.Is(err, study.ErrIncomplete) || exitCode(err) != study.ExitIncomplete || !strings.Contains(err.Error(), "indices 1)") ||
				!strings.Contains(out, "1 grid points not finished: 1") {
				t.Fatalf("collect of a partial grid: %v (exit %d)\n%s", err, exitCode(err), out)
			}
			if _, err := os.Stat(filepath.Join(slurmDir, study.SummaryMarkdown)); err != nil {
				t.Fatalf("no partial summary: %v", err)
			}
		}
		if out, err := runArgs(t, args...); err != nil || !strings.Contains(out, "best") {
			t.Fatalf("slurm task %d (%v): %v\n%s", i, args, err, out)
		}
	}
	if _, err := runArgs(t, collectCmd...); err != nil {
		t.Fatal(err)
	}

	// Kubernetes: an Indexed Job of 2 completions whose container command takes the index from the annotation.
	raw, err := os.ReadFile(filepath.Join(k8sDir, study.K8sJobFile))
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind string
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Parallelism    int
			Template       struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []struct {
						Command []string
						Env     []struct {
							Name      string
							ValueFrom struct {
								FieldRef struct {
									FieldPath string `yaml:"fieldPath"`
								} `yaml:"fieldRef"`
							} `yaml:"valueFrom"`
						}
					}
				}
			}
		}
	}
	if err := yaml.Unmarshal(raw, &job); err != nil {
		t.Fatalf("%s: %v", study.K8sJobFile, err)
	}
	s := job.Spec
	if job.Kind != "Job" || s.CompletionMode != "Indexed" || s.Completions != 2 || s.Parallelism != 1 ||
		s.Template.Spec.RestartPolicy != "Never" || len(s.Template.Spec.Containers) != 1 {
		t.Fatalf("job: %+v", job)
	}
	c := s.Template.Spec.Containers[0]
	fromAnnotation := false
	for _, e := range c.Env {
		fromAnnotation = fromAnnotation || (e.Name == study.K8sIndexVar &&
			e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['batch.kubernetes.io/job-completion-index']")
	}
	if !fromAnnotation || c.Command[0] != "bnzoo-study" {
		t.Fatalf("container: %+v", c)
	}
	for i := range 2 {
		args := substitute(c.Command[1:], "$("+study.K8sIndexVar+")", strconv.Itoa(i))
		if _, err := runArgs(t, args...); err != nil {
			t.Fatalf("k8s index %d (%v): %v", i, args, err)
		}
	}
	// Running an index again finds it finished.
	if out, err := runArgs(t, substitute(c.Command[1:], "$("+study.K8sIndexVar+")", "1")...); err != nil || !strings.Contains(out, "finished before") {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	raw, _ = os.ReadFile(filepath.Join(k8sDir, study.K8sCollectFile))
	var collectJob struct {
		Spec struct {
			Template struct {
				Spec struct{ Containers []struct{ Command []string } }
			}
		}
	}
	if err := yaml.Unmarshal(raw, &collectJob); err != nil || len(collectJob.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %v", study.K8sCollectFile, err)
	}
	if _, err := runArgs(t, collectJob.Spec.Template.Spec.Containers[0].Command[1:]...); err != nil {
		t.Fatal(err)
	}

	a, b := readSummaryRows(t, slurmDir), readSummaryRows(t, k8sDir)
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("summary rows: slurm %d, k8s %d; want 2 each", len(a), len(b))
	}
	for i := range a {
		// identical runs: everything but the wall-time columns agrees
		if strings.Join(a[i][:len(a[i])-2], ",") != strings.Join(b[i][:len(b[i])-2], ",") {
			t.Errorf("row %d differs:\n slurm %v\n k8s   %v", i, a[i], b[i])
		}
	}
}

func TestBadFlagsNameTheFlag(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-experiment", "nope"}, "-experiment"},
		{[]string{"-budget", "huge"}, "-budget"},
		{[]string{"-dataset", "svhn"}, "-dataset"},
		{[]string{"-seeds", "1,x"}, "-seeds"},
		{[]string{"-archs", "vgg_nope"}, "-archs"},
		{[]string{"-activations", "swish?"}, "-activations"},
		{[]string{"-activations", "silu,elu:x"}, "-activations"},
		{[]string{"-placements", "before"}, "-placements"},
		{[]string{"-epochs", "-1"}, "-epochs"},
		{[]string{"-lr", "-0.1"}, "-lr"},
		{[]string{"-lrs", "0.1,fast"}, "-lrs"},
		{[]string{"-lrs", "0.1,-1"}, "-lrs"},
		{[]string{"-lrs", "0.1,0.1"}, "-lrs"},
		{[]string{"-lr", "0.1", "-lrs", "0.1"}, "-lr"},
		{[]string{"-val-fraction", "1.5"}, "-val-fraction"},
		{[]string{"-sweep-seeds", "-2"}, "-sweep-seeds"},
		{[]string{"-track-samples", "-5"}, "-track-samples"},
		{[]string{"export", "-dir", "relative/dir"}, "-dir"},
		{[]string{"export"}, "-dir"},
		{[]string{"export", "-dir", "/shared/s", "-name", "My_Study run"}, "-name"},
		{[]string{"export", "-dir", "/shared/s", "-name", strings.Repeat("x", 60)}, "-name"},
		{[]string{"export", "-dir", "/shared/s", "-time", "1 day"}, "-time"},
		{[]string{"export", "-dir", "/shared/s", "-time", "5"}, "-time"},
		{[]string{"export", "-dir", "/shared/bnzoo/s", "-mount", "/shared/bnzoo", "-data-dir", "/shared/data/cifar10", "-dataset", "cifar10"}, "-data-dir"},
		{[]string{"export", "-dir", "/shared/s", "-uid", "0"}, "-uid"},
		{[]string{"export", "-dir", "/shared/s", "-cpus", "0"}, "-cpus"},
		{[]string{"run-index", "-dir", dir, "-index", "0", "-index-offset", "-1"}, "-index-offset"},
		{[]string{"collect"}, "-dir"},
		{[]string{"collect", "-dir", dir}, "-dir"},
		{[]string{"run-index", "-dir", dir, "-index", "0"}, "-dir"},
		{[]string{"frobnicate"}, "frobnicate"},
	} {
		_, err := runArgs(t, c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: got %v, want a usage error naming %s", c.args, err, c.flag)
		}
		if exitCode(err) != 2 {
			t.Errorf("%v: exit code %d, want 2", c.args, exitCode(err))
		}
	}
	// An index outside the grid.
	sd := filepath.Join(dir, "s")
	if _, err := runArgs(t, append([]string{"export", "-dir", sd}, tiny...)...); err != nil {
		t.Fatal(err)
	}
	if _, err := runArgs(t, "run-index", "-dir", sd, "-index", "2"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-index") {
		t.Fatalf("index out of range: %v", err)
	}
	// list prints the points with their indices.
	out, err := runArgs(t, append([]string{"list"}, tiny...)...)
	if err != nil || out != "0\tvgg_mini-tanh-conventional-lr0.1-seed1\n1\tvgg_mini-tanh-swapped-lr0.1-seed1\n" {
		t.Fatalf("list: %v\n%q", err, out)
	}
}

// TestMixedPlacementAxis: the placement axis takes per-unit rules; the points' run directories name them without
// shell metacharacters, and a rule that selects no unit of an architecture is a usage error naming -placements.
func TestMixedPlacementAxis(t *testing.T) {
	args := []string{"list", "-dataset", "mnist", "-activations", "tanh", "-placements",
		"conventional,conventional+last:50%=swapped,swapped+features.*=none", "-seeds", "1", "-lr", "0.1"}
	out, err := runArgs(t, args...)
	want := "0\tvgg_mini-tanh-conventional-lr0.1-seed1\n1\tvgg_mini-tanh-conventional+last_50pct=swapped-lr0.1-seed1\n" +
		"2\tvgg_mini-tanh-swapped+features.x=none-lr0.1-seed1\n"
	if err != nil || out != want {
		t.Fatalf("list: %v\n%q\nwant\n%q", err, out, want)
	}
	_, err = runArgs(t, "list", "-dataset", "mnist", "-archs", "vgg_mini,resnet20", "-placements", "conventional+features.0=swapped")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-placements") ||
		!strings.Contains(err.Error(), `placement rule "features.0=swapped" matches no unit (units: stem, blocks.0.conv1`) {
		t.Fatalf("a rule matching no resnet20 unit: %v", err)
	}
}
