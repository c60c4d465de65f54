//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bnzoo/bnzoo/internal/study"
)

// slurmGrid is the grid of the Slurm test: vgg_mini tanh in both placements, a learning-rate sweep of two rates on
// seed 1 and seed 2 at each placement's chosen rate (6 points, 0-3 the sweep), 1 epoch on 45 MNIST training
// images per class (5 more for validation), tested on 10 per class.
var slurmGrid = []string{"-dataset", "mnist", "-activations", "tanh", "-placements", "conventional,swapped",
	"-seeds", "1,2", "-lrs", "0.03,0.1", "-sweep-seeds", "1", "-epochs", "1", "-train-per-class", "50", "-test-per-class", "10"}

// TestSlurmRunsTheExportedGrid runs an exported grid on a real one-node Slurm, as docs/cluster.md says: export,
// then slurm-submit.sh (with no slurm-logs/ folder yet). While the sweep runs, task 0 is cancelled (scancel) and
// task 1 gets the time-limit warning (USR1 to its batch shell, what --signal sends): task 1 checkpoints, requeues
// itself and finishes; task 0 stays unfinished, so point 4 (which needs its sweep) fails and the collect job fails
// with status 3. Resubmitting with slurm-submit.sh finishes the grid; then every model must be byte-identical to
// a local run of the same grid, the collect job's summary equal to the local one, and no lock file left.
//
// It needs root, Debian's slurmctld, slurmd, slurm-client and munge, and BNZOO_SLURM_TEST=1 (.ci/run sets it).
func TestSlurmRunsTheExportedGrid(t *testing.T) {
	if os.Getenv("BNZOO_SLURM_TEST") != "1" {
		t.Skip("set BNZOO_SLURM_TEST=1 to run the exported grid on a one-node Slurm started by the test " +
			"(needs root, slurmctld, slurmd, slurm-client and munge; .ci/run does)")
	}
	start := time.Now()
	base := t.TempDir()
	bin := filepath.Join(base, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "bnzoo-study"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	cluster := startSlurm(t)
	t.Logf("built bnzoo-study and started Slurm in %v", time.Since(start).Round(time.Second))

	local := filepath.Join(base, "local")
	sh(t, "bnzoo-study", append([]string{"run", "-dir", local, "-quiet"}, slurmGrid...)...)
	t.Logf("local run done at %v", time.Since(start).Round(time.Second))

	// Export and submit, as docs/cluster.md says.
	dir := filepath.Join(base, "study")
	sh(t, "bnzoo-study", append([]string{"export", "-dir", dir, "-cpus", "1", "-memory", "1", "-time", "10:00"}, slurmGrid...)...)
	if err := os.RemoveAll(filepath.Join(dir, study.SlurmLogsDir)); err != nil { // as if exported elsewhere
		t.Fatal(err)
	}
	out := sh(t, filepath.Join(dir, study.SlurmSubmitFile))
	sweep, collect := jobID(t, out, "learning-rate sweep"), jobID(t, out, "collect")
	g, err := study.ReadGrid(filepath.Join(dir, study.GridFile))
	if err != nil {
		t.Fatal(err)
	}
	points := g.Points()
	started := func(i int) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(g.RunDir(dir, points[i]), "run.json"))
			return err == nil
		}
	}
	cluster.waitFor(t, 3*time.Minute, "training in task 0", started(0))
	sh(t, "scancel", sweep+"_0")
	cluster.waitFor(t, 3*time.Minute, "training in task 1", started(1))
	warnTimeLimit(t, cluster, sweep+"_1")
	cluster.waitIdle(t, 5*time.Minute)
	t.Logf("first submission ended at %v: sweep %s, collect %s", time.Since(start).Round(time.Second),
		cluster.job(t, sweep), cluster.job(t, collect))

	if s := cluster.job(t, collect); s != "FAILED 3:0" {
		t.Errorf("collect job of the partial grid: %s, want FAILED 3:0", s)
	}
	if _, err := study.ReadResult(g.RunDir(dir, points[0])); err == nil {
		t.Fatal("point 0 finished before scancel reached it: nothing was interrupted")
	}
	logOf := func(job string, task int) string {
		b, _ := os.ReadFile(filepath.Join(dir, study.SlurmLogsDir, job+"_"+strconv.Itoa(task)+".out"))
		return string(b)
	}
	if l := logOf(sweep, 0); !strings.Contains(l, "interrupted (received terminated)") || !strings.Contains(l, "resubmit index 0") {
		t.Errorf("log of the cancelled task 0:\n%s", l)
	}
	if l := logOf(sweep, 1); !strings.Contains(l, "requeueing task 1") || !strings.Contains(l, "(resumed)") {
		t.Errorf("log of task 1, warned of its time limit:\n%s", l)
	}
	t.Logf("task 0 when cancelled: %s", regexp.MustCompile(`interrupted \(received[^;]*`).FindString(logOf(sweep, 0)))

	// Resubmit, as the docs say: finished points exit at once, task 0 resumes, point 4 runs.
	out = sh(t, filepath.Join(dir, study.SlurmSubmitFile))
	sweep2, collect2 := jobID(t, out, "learning-rate sweep"), jobID(t, out, "collect")
	cluster.waitIdle(t, 5*time.Minute)
	t.Logf("resubmission ended at %v", time.Since(start).Round(time.Second))
	if s := cluster.job(t, collect2); s != "COMPLETED 0:0" {
		t.Errorf("collect job after the resubmission: %s, want COMPLETED 0:0\n%s", s, readFile(t, filepath.Join(dir, study.SlurmLogsDir, "collect-"+collect2+".out")))
	}
	if l := logOf(sweep2, 0); !strings.Contains(l, "(resumed)") {
		t.Errorf("log of the resubmitted task 0:\n%s", l)
	}

	compareStudies(t, local, dir, g)
	t.Logf("wall time %v", time.Since(start).Round(time.Second))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gomaxprocs is the provenance line that differs between a local run and a 1-CPU task.
var gomaxprocs = regexp.MustCompile(`"gomaxprocs": \d+`)

// compareStudies requires the cluster's study in dir to equal the local one: every point's final model
// byte-identical, its report.json identical but for the provenance's GOMAXPROCS, the summary tables identical but
// for wall times; and no lock file beside a run directory.
func compareStudies(t *testing.T, local, dir string, g *study.Grid) {
	t.Helper()
	for _, p := range g.Points() {
		p, err := resolved(dir, g, p)
		if err != nil {
			t.Fatal(err)
		}
		a, b := g.RunDir(local, p), g.RunDir(dir, p)
		if readFile(t, lastModel(t, a)) != readFile(t, lastModel(t, b)) {
			t.Errorf("point %d (%s): the final models differ", p.Index, p.ID())
		}
		ra := gomaxprocs.ReplaceAllString(readFile(t, filepath.Join(a, study.ReportFile)), "")
		rb := gomaxprocs.ReplaceAllString(readFile(t, filepath.Join(b, study.ReportFile)), "")
		if ra != rb {
			t.Errorf("point %d (%s): report.json differs", p.Index, p.ID())
		}
	}
	for _, f := range []string{"lr.csv", "verdicts.csv"} {
		if readFile(t, filepath.Join(local, f)) != readFile(t, filepath.Join(dir, f)) {
			t.Errorf("%s differs", f)
		}
	}
	a, b := readSummaryRows(t, local), readSummaryRows(t, dir)
	if len(a) != 2 || len(a) != len(b) {
		t.Fatalf("summary rows: local %d, cluster %d; want 2", len(a), len(b))
	}
	for i := range a { // all but the wall-time columns
		if strings.Join(a[i][:len(a[i])-2], ",") != strings.Join(b[i][:len(b[i])-2], ",") {
			t.Errorf("summary row %d differs:\n local   %v\n cluster %v", i, a[i], b[i])
		}
	}
	if locks, _ := filepath.Glob(filepath.Join(g.Runs(dir), "*.lock")); len(locks) > 0 {
		t.Errorf("lock files left beside the run directories: %v", locks)
	}
}

// resolved is p with its learning rate, as the runner resolves it from the sweep on disk.
func resolved(dir string, g *study.Grid, p study.Point) (study.Point, error) {
	r, err := study.NewRunner(dir, nil, nil)
	if err != nil {
		return p, err
	}
	return r.Resolve(p)
}

// lastModel is the model file of a run's newest checkpoint.
func lastModel(t *testing.T, runDir string) string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(runDir, "checkpoints", "*", "model.safetensors"))
	if len(ms) == 0 {
		t.Fatalf("no checkpoint in %s", runDir)
	}
	sort.Strings(ms)
	return ms[len(ms)-1]
}
