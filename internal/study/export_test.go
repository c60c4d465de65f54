package study

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sweptGrid is tinyGrid with a learning-rate sweep on seed 1 and a second seed at each configuration's chosen
// rate: points 0-3 are the sweep, 4-5 need it.
func sweptGrid() *Grid {
	g := tinyGrid()
	g.Seeds, g.LRs, g.SweepSeeds = []int64{1, 2}, []float64{0.03, 0.1}, 1
	return g
}

// exportErr exports g with o into a fresh directory and returns the option the error names ("" for none).
func exportErr(t *testing.T, g *Grid, o ExportOptions) string {
	t.Helper()
	_, err := Export(t.TempDir(), g, o)
	var oe *ExportOptionError
	if errors.As(err, &oe) {
		return oe.Option
	}
	if err != nil {
		t.Fatalf("%+v: %v, want nil or an *ExportOptionError", o, err)
	}
	return ""
}

func TestExportRefusesBadNames(t *testing.T) {
	g := sweptGrid() // 6 points: Jobs <name>-sweep (indices 0-3), <name> (0-1), <name>-collect
	for name, want := range map[string]string{
		"My_Study run":             "name", // sbatch: "Invalid directive found in batch script: run"
		"Order":                    "name", // upper case: not a DNS-1123 label
		"-order":                   "name",
		"order-":                   "name",
		"order.full":               "name", // a subdomain, but no label: the pods' hostnames need one
		strings.Repeat("a", 55):    "",     // <name>-collect is 63
		strings.Repeat("a", 56):    "name", // <name>-collect is 64
		"bnzoo-order-full-cifar10": "",
	} {
		if got := exportErr(t, g, ExportOptions{Dir: "/shared/s", Name: name}); got != want {
			t.Errorf("-name %q: error names %q, want %q", name, got, want)
		}
	}
	// The index suffix: a grid of 1,000 points makes <name>-999.
	g = tinyGrid()
	g.Seeds = make([]int64, 500)
	for i := range g.Seeds {
		g.Seeds[i] = int64(i + 1)
	}
	if got := exportErr(t, g, ExportOptions{Dir: "/shared/s", Name: strings.Repeat("a", 59)}); got != "name" {
		t.Errorf("a 59-character name with 1,000 indices: error names %q, want name", got)
	}
	if got := exportErr(t, g, ExportOptions{Dir: "/shared/s", Name: strings.Repeat("a", 55)}); got != "" {
		t.Errorf("a 55-character name with 1,000 indices: error names %q, want none", got)
	}
}

func TestExportChecksTheTimeLimit(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"600": 10 * time.Hour, "30:00": 30 * time.Minute, "24:00:00": 24 * time.Hour, "2-0": 48 * time.Hour,
		"1-12:30": 36*time.Hour + 30*time.Minute, "0-00:10:05": 10*time.Minute + 5*time.Second, "90": 90 * time.Minute,
	} {
		if s == "600" {
			want = 600 * time.Minute
		}
		if d, ok := parseSlurmTime(s); !ok || d != want {
			t.Errorf("parseSlurmTime(%q) = %v, %v; want %v", s, d, ok, want)
		}
	}
	for _, bad := range []string{"1 day", "24h", "1:2:3:4", "-5", "1-", "9:00"} {
		if got := exportErr(t, sweptGrid(), ExportOptions{Dir: "/shared/s", TimeLimit: bad}); got != "time" {
			t.Errorf("-time %q: error names %q, want time", bad, got)
		}
	}
}

// TestExportMountsWhatThePodsNeed: the README's example (data beside the study on the claim) mounts the directory
// holding both; data outside an explicit -mount, or sharing no directory with the study, is refused by name.
func TestExportMountsWhatThePodsNeed(t *testing.T) {
	withData := func(dir string) *Grid { g := sweptGrid(); g.Data.Dir = dir; return g }
	out := t.TempDir()
	if _, err := Export(out, withData("/shared/data/cifar10"), ExportOptions{Dir: "/shared/bnzoo/order-full-cifar10"}); err != nil {
		t.Fatal(err)
	}
	job, _ := os.ReadFile(filepath.Join(out, K8sJobFile))
	if !strings.Contains(string(job), "mountPath: /shared\n") {
		t.Fatalf("the claim is not mounted at /shared:\n%s", job)
	}
	for name, c := range map[string]struct {
		g    *Grid
		o    ExportOptions
		want string
	}{
		"data outside -mount": {withData("/shared/data/cifar10"), ExportOptions{Dir: "/shared/bnzoo/s", MountPath: "/shared/bnzoo"}, "data-dir"},
		"data in the image":   {withData("/opt/data/cifar10"), ExportOptions{Dir: "/shared/bnzoo/s", MountPath: "/shared/bnzoo", DataInImage: true}, ""},
		"nothing in common":   {withData("/data/cifar10"), ExportOptions{Dir: "/shared/bnzoo/s"}, "mount"},
		"study outside":       {sweptGrid(), ExportOptions{Dir: "/shared/bnzoo/s", MountPath: "/other"}, "dir"},
		"relative mount":      {sweptGrid(), ExportOptions{Dir: "/shared/bnzoo/s", MountPath: "shared"}, "mount"},
		"study at the root":   {sweptGrid(), ExportOptions{Dir: "/study"}, "mount"},
		"default location":    {sweptGrid(), ExportOptions{Dir: "/shared/bnzoo/s"}, ""},
	} {
		if got := exportErr(t, c.g, c.o); got != c.want {
			t.Errorf("%s: error names %q, want %q", name, got, c.want)
		}
	}
	g := sweptGrid()
	g.RunsDir = "../../elsewhere/runs" // /shared/elsewhere/runs: outside /shared/bnzoo
	if got := exportErr(t, g, ExportOptions{Dir: "/shared/bnzoo/s", MountPath: "/shared/bnzoo"}); got != "runs-dir" {
		t.Errorf("runs outside -mount: error names %q, want runs-dir", got)
	}
}
