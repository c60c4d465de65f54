package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

func saveModel(t *testing.T, dir string, pl layers.Placement, shape [3]int) string {
	t.Helper()
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: shape, Activation: layers.MustActivation("tanh"),
		Placement: pl, Seed: 1}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, pl.String()+".safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportAndComparison(t *testing.T) {
	dir := t.TempDir()
	conv := saveModel(t, dir, layers.Conventional, [3]int{1, 28, 28})
	swap := saveModel(t, dir, layers.Swapped, [3]int{1, 28, 28})
	out := filepath.Join(dir, "one")
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-dataset", "mnist", "-samples", "50", "-batch-size", "32", "-quiet",
		"-out", out, swap}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	r, err := analysis.ReadReportDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 50 || r.Placement != "swapped" || len(r.Layers) != 3 {
		t.Fatalf("report %+v", r.ReportMeta)
	}
	for _, f := range []string{"report.md", "layers.csv", "channels.csv", "figures/layer_metrics.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	cmp := filepath.Join(dir, "cmp")
	stdout.Reset()
	if err := run(context.Background(), []string{"-dataset", "mnist", "-samples", "40", "-quiet", "-out", cmp, conv, swap},
		&stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(cmp, "comparison.md"))
	if err != nil || !strings.Contains(string(md), "conventional") || !strings.Contains(string(md), "swapped") {
		t.Fatalf("comparison.md: %v\n%s", err, md)
	}
	// -per-class takes the first samples of each of MNIST's ten classes.
	perClass := filepath.Join(dir, "per-class")
	if err := run(context.Background(), []string{"-dataset", "mnist", "-per-class", "3", "-quiet", "-out", perClass, swap},
		&bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if r, err := analysis.ReadReportDir(perClass); err != nil {
		t.Fatal(err)
	} else if r.Samples != 30 {
		t.Fatalf("-per-class 3: %d samples, want 30", r.Samples)
	}
	// Compare the two report directories just written, without a dataset.
	again := filepath.Join(dir, "again")
	if err := run(context.Background(), []string{"-compare", "-out", again, filepath.Join(cmp, "conventional"),
		filepath.Join(cmp, "swapped", "report.json")}, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(again, "comparison.csv")); err != nil {
		t.Fatal(err)
	}
}

// runWithoutCheckpoint returns a run directory whose run.json exists but which has no checkpoint.
func runWithoutCheckpoint(t *testing.T, dir string) string {
	t.Helper()
	run := filepath.Join(dir, "fresh-run")
	if err := os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, "run.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return run
}

// TestRunDirectory analyses a run directory of examples/train without -dataset: the run names its dataset, and its
// best checkpoint is the model.
func TestRunDirectory(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "run")
	rc := train.RunConfig{Model: zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1},
		Data: train.DataSpec{Name: "mnist", TrainPerClass: 5, TestPerClass: 2}, Train: train.DefaultConfig()}
	rc.Train.BatchSize = 25
	r, err := train.NewRun(runDir, rc)
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := rc.Data.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	r.Close()
	out := filepath.Join(dir, "report")
	if err := run(context.Background(), []string{"-per-class", "2", "-quiet", "-out", out, runDir}, &bytes.Buffer{},
		&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	rep, err := analysis.ReadReportDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dataset != "mnist" || rep.Samples != 20 || rep.Placement != "swapped" {
		t.Fatalf("report of the run: %+v", rep.ReportMeta)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	cifarModel := saveModel(t, dir, layers.Swapped, [3]int{3, 32, 32})
	cases := map[string][]string{
		"at least one model": {"-dataset", "mnist"},
		"-dataset":           {cifarModel},
		"-split":             {"-dataset", "mnist", "-split", "val", cifarModel},
		"-compare":           {"-compare", "a.json"},
		"is 1×28×28 but the model takes 3×32×32": {"-dataset", "mnist", "-samples", "10", "-quiet", cifarModel},
		`"-samples" comes after the first input`: {"-dataset", "mnist", cifarModel, "-samples", "10"},
		"-per-class cannot be combined":          {"-dataset", "mnist", "-samples", "10", "-per-class", "2", cifarModel},
		"absent.safetensors":                     {"-dataset", "mnist", filepath.Join(dir, "absent.safetensors")},
		"-labels has 2":                          {"-dataset", "mnist", "-labels", "a,b", cifarModel},
		"Options.Delta":                          {"-dataset", "mnist", "-delta", "2", cifarModel},
		"-batch-size must be":                    {"-dataset", "mnist", "-batch-size", "0", cifarModel},
	}
	for want, args := range cases {
		err := run(context.Background(), append([]string{"-out", filepath.Join(dir, "o")}, args...), &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %v should mention %q", args, err, want)
		}
	}
}

// TestBadModelFailsBeforeData: a bad model file used to fail only after the dataset had been loaded (seconds of
// work), and one whose metadata asked for 2e9 classes killed the process with a fatal out-of-memory error (exit
// status 2, the usage code). The file is now opened first — the dataset named here does not even exist — and
// is an ordinary error (exit status 1) naming it.
func TestBadModelFailsBeforeData(t *testing.T) {
	dir := t.TempDir()
	good := saveModel(t, dir, layers.Swapped, [3]int{1, 28, 28})
	f, err := safetensors.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata["bnzoo.config"] = strings.Replace(f.Metadata["bnzoo.config"], `"classes":10`, `"classes":2000000000`, 1)
	huge := filepath.Join(dir, "huge.safetensors")
	if err := safetensors.WriteFile(huge, f); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{huge, filepath.Join(dir, "absent.safetensors")} {
		err := run(context.Background(), []string{"-dataset", "fashion-mnist", "-data-dir", filepath.Join(dir, "no-data"),
			"-quiet", "-out", filepath.Join(dir, "o"), good, path}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "no-data") {
			t.Errorf("%s: %v, want an error (not a usage error) naming the file, before the dataset is read", path, err)
		}
	}
	// -compare with a report that is not one.
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte("{}"), 0o644)
	if err := run(context.Background(), []string{"-compare", "-out", filepath.Join(dir, "c"), empty, empty},
		&bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("-compare {}: %v, want an error naming %s", err, empty)
	}
}
