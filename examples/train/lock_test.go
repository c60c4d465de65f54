package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// TestResumeOfALockedRun: `train -resume DIR` while another process trains DIR used to run to the end alongside
// it. It now fails at once with exit status 1, naming the lock.
func TestResumeOfALockedRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	rc := train.RunConfig{Model: zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Seed: 1},
		Data:  train.DataSpec{Name: "mnist", TrainSubset: 50, TestSubset: 20},
		Train: train.Config{Epochs: 1, BatchSize: 25, LR: 0.01}}
	holder, err := train.NewRun(dir, rc) // the other process
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	err = run(context.Background(), []string{"-resume", dir, "-quiet"}, &bytes.Buffer{}, &bytes.Buffer{}, nil, nil)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), filepath.Join(dir, ".lock")) {
		t.Fatalf("resume of a locked run: %v (exit %d), want exit 1 naming the lock", err, exitCode(err))
	}
}

// TestDamagedRunJSONIsNotAUsageError: a run directory whose run.json is damaged is a bad file (exit status 1),
// not a bad flag (2); a directory without run.json stays a bad -resume flag.
func TestDamagedRunJSONIsNotAUsageError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"model": {"classes": 1e999`), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-resume", dir, "-quiet"}, &bytes.Buffer{}, &bytes.Buffer{}, nil, nil)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "run.json") {
		t.Fatalf("damaged run.json: %v (exit %d), want exit 1 naming run.json", err, exitCode(err))
	}
	err = run(context.Background(), []string{"-resume", t.TempDir(), "-quiet"}, &bytes.Buffer{}, &bytes.Buffer{}, nil, nil)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("not a run directory: %v (exit %d), want a -resume flag error", err, exitCode(err))
	}
}
