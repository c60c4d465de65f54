package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/train"
)

// TestFlagErrors checks that each bad flag gives one error naming it, with exit status 2.
func TestFlagErrors(t *testing.T) {
	resumable := t.TempDir()
	if err := os.WriteFile(filepath.Join(resumable, "run.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"-lr", []string{"-lr", "abc"}},
		{"-lr", []string{"-lr", "-1"}},
		{"-model", []string{"-model", "vgg99"}},
		{"-activation", []string{"-activation", "swish"}},
		{"-activation", []string{"-activation", "leaky_relu:-0.1"}},
		{"-activation", []string{"-activation", "gelu:1"}},
		{"-placement", []string{"-placement", "before"}},
		{"-width", []string{"-width", "0.5"}},
		{"-dataset", []string{"-dataset", "imagenet"}},
		{"-dataset", []string{"-dataset", "fashion-mnist", "-data-dir", "/nonexistent/fmnist"}},
		{"-epochs", []string{"-epochs", "0"}},
		{"-batch-size", []string{"-batch-size", "0"}},
		{"-optimizer", []string{"-optimizer", "rmsprop"}},
		{"-momentum", []string{"-momentum", "1"}},
		{"-nesterov", []string{"-nesterov", "-momentum", "0"}},
		{"-nesterov", []string{"-nesterov", "-optimizer", "adam"}},
		{"-weight-decay", []string{"-weight-decay", "-0.1"}},
		{"-schedule", []string{"-schedule", "step"}},
		{"-milestones", []string{"-schedule", "multistep"}},
		{"-milestones", []string{"-schedule", "multistep", "-milestones", "10,x"}},
		{"-milestones", []string{"-schedule", "multistep", "-milestones", "10,5"}},
		{"-milestones", []string{"-milestones", "10"}},
		{"-gamma", []string{"-schedule", "multistep", "-milestones", "1", "-gamma", "0"}},
		{"-gamma", []string{"-schedule", "multistep", "-milestones", "1", "-gamma", "-2"}},
		{"-warmup-epochs", []string{"-warmup-epochs", "-1"}},
		{"-warmup-epochs", []string{"-schedule", "cosine", "-epochs", "2", "-warmup-epochs", "2"}},
		{"-keep", []string{"-keep", "-1"}},
		{"-checkpoint-every", []string{"-checkpoint-every", "-5"}},
		{"-train-subset", []string{"-train-subset", "-1"}},
		{"-train-per-class", []string{"-train-per-class", "-1"}},
		{"-test-per-class", []string{"-test-per-class", "5", "-test-subset", "10"}},
		{"-resume", []string{"-resume", "/nonexistent/run"}},
		{"-epochs", []string{"-resume", resumable, "-epochs", "5"}},
		{"unexpected argument", []string{"extra"}},
	} {
		var stdout, stderr bytes.Buffer
		// A case that wrongly passes would start training: the timeout stops it.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, append(c.args, "-quiet", "-run-dir", t.TempDir()), &stdout, &stderr, nil, nil)
		cancel()
		if !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: error %v (exit %d), want a flag error naming %s with exit 2", c.args, err, exitCode(err), c.flag)
		}
		if stderr.Len() > 0 {
			t.Errorf("%v: printed %q besides the error", c.args, stderr.String())
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr, nil, nil); !errors.Is(err, flag.ErrHelp) ||
		exitCode(err) != 0 || !strings.Contains(stderr.String(), "-checkpoint-every") || !strings.Contains(stderr.String(), "leaky_relu:<α>") {
		t.Fatalf("-h: %v\n%s", err, stderr.String())
	}
}

// TestReluLikeActivationsAccepted checks that -activation takes the ReLU-like names, with and without α, into the
// model config.
func TestReluLikeActivationsAccepted(t *testing.T) {
	for name, want := range map[string]string{"leaky_relu": "leaky_relu:0.01", "leaky_relu:0.2": "leaky_relu:0.2",
		"elu": "elu:1", "elu:0.5": "elu:0.5", "silu": "silu", "gelu": "gelu"} {
		o, err := parseFlags([]string{"-activation", name}, &bytes.Buffer{})
		if err == nil {
			err = o.checkFlags()
		}
		if err != nil {
			t.Fatalf("-activation %s: %v", name, err)
		}
		c, err := o.modelConfig(&datasets.Split{C: 1, H: 28, W: 28, Classes: make([]string, 10)})
		if err != nil || c.Activation.String() != want {
			t.Errorf("-activation %s: config activation %v (%v), want %s", name, c.Activation, err, want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	interrupted := func(sig syscall.Signal) error {
		return fmt.Errorf("fit: %w", &train.InterruptedError{Cause: &train.SignalError{Signal: sig}})
	}
	for want, err := range map[int]error{
		0:   nil,
		1:   errors.New("disk full"),
		2:   usageError("lr", "must be positive"),
		130: interrupted(syscall.SIGINT),
		143: interrupted(syscall.SIGTERM),
	} {
		if got := exitCode(err); got != want {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestInterruptAndResume trains 2 epochs of 4 steps on 100 MNIST images with a checkpoint after every step,
// cancels the context once the first checkpoint exists (as SIGINT would), then resumes the run with -resume to
// its end.
func TestInterruptAndResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if latest, _ := train.LatestCheckpoint(dir); latest != "" {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-train-subset", "100", "-test-subset", "50", "-batch-size", "25", "-epochs", "2",
		"-checkpoint-every", "1", "-placement", "swapped", "-quiet", "-run-dir", dir}, &stdout, &stderr, nil, nil)
	var ie *train.InterruptedError
	if !errors.As(err, &ie) || ie.Dir != dir || exitCode(err) != 1 {
		t.Fatalf("interrupted run: %v\n%s", err, stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"-resume", dir, "-quiet"}, &stdout, &stderr, nil, nil); err != nil {
		t.Fatalf("resume: %v\n%s", err, stdout.String())
	}
	if out := stdout.String(); !strings.Contains(out, "epoch 2: train loss") || !strings.Contains(out, "best test accuracy") {
		t.Fatalf("resume output:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "log.csv"))
	if err != nil || strings.Count(string(raw), "\n") != 3 {
		t.Fatalf("log.csv after resuming: %q %v", raw, err)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"-resume", dir}, &stdout, &stderr, nil, nil); err != nil ||
		!strings.Contains(stdout.String(), "is complete") {
		t.Fatalf("resuming a finished run: %v\n%s", err, stdout.String())
	}
}

// TestPerClassSubsets trains on the first samples of each class and checks the split sizes and run.json.
// TestValidationFraction holds out 10% of the training images: epochs are evaluated on them, and the test split
// once, at the end.
func TestValidationFraction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-train-per-class", "20", "-test-per-class", "5", "-val-fraction", "0.1",
		"-batch-size", "50", "-epochs", "1", "-quiet", "-run-dir", dir}, &stdout, &stderr, nil, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{"(180 train / 20 validation / 50 test images)", "validation loss", "best validation accuracy",
		"final model on the test split"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if err := run(context.Background(), []string{"-val-fraction", "1"}, &stdout, &stderr, nil, nil); !errors.Is(err, errUsage) ||
		!strings.Contains(err.Error(), "-val-fraction") {
		t.Fatalf("-val-fraction 1: %v", err)
	}
}

func TestPerClassSubsets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-train-per-class", "10", "-test-per-class", "5", "-batch-size", "50",
		"-epochs", "1", "-quiet", "-run-dir", dir}, &stdout, &stderr, nil, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "(100 train / 0 validation / 50 test images), 1 epoch of 2 steps,") {
		t.Fatalf("want 10 + 5 images of each of 10 classes, in 1 epoch of 2 steps:\n%s", stdout.String())
	}
	rc, err := train.ReadRunConfig(dir)
	if err != nil || rc.Data.TrainPerClass != 10 || rc.Data.TestPerClass != 5 {
		t.Fatalf("run.json data %+v, %v", rc.Data, err)
	}
	// run.json records what trained the run.
	if p := rc.Train.Provenance; p == nil || p.GoVersion == "" || p.Backend == "" || p.GOMAXPROCS < 1 {
		t.Fatalf("run.json provenance %+v", p)
	}
}

// TestPlacementRulesFlag: -placement takes per-unit rules; a bad one is a usage error naming the flag and the rule,
// before any data is read.
func TestPlacementRulesFlag(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"conventional+last:2", `"last:2": want SELECTOR=PLACEMENT`},
		{"conventional+blocks.*=swapped", `placement rule "blocks.*=swapped" matches no unit (units: features.0, features.1, features.2)`},
		{"conventional+first:4=swapped", `placement rule "first:4=swapped": the model has only 3 units`},
	} {
		err := run(context.Background(), []string{"-placement", c.spec, "-dataset", "fashion-mnist", "-data-dir",
			"/nonexistent/fmnist", "-quiet", "-run-dir", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{}, nil, nil)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "-placement") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("-placement %s: error %v, want a usage error naming -placement and %s", c.spec, err, c.want)
		}
	}
}
