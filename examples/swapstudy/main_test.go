package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/zoo"
)

func TestRunSmall(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	// 30 training images of each of MNIST's ten classes, 3 of them held out for validation, and 12 test images
	// (TestEveryModel takes the -*-subset flags).
	err := run(context.Background(), []string{"-train-per-class", "30", "-test-per-class", "12", "-val-fraction", "0.1",
		"-batch-size", "64", "-lr", "0.01", "-quiet", "-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"(270 train / 30 validation / 120 test images)", "conventional  test accuracy", "swapped       test accuracy", "features.0", "features.2"} {
		if !strings.Contains(text, want) {
			t.Fatalf("output lacks %q:\n%s", want, text)
		}
	}
	for _, pl := range []string{"conventional", "swapped"} {
		r, err := analysis.ReadReport(filepath.Join(out, pl+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Placement != pl || r.Model != "vgg_mini" || r.Samples != 120 || len(r.Layers) != 3 {
			t.Fatalf("%s report: %+v", pl, r.ReportMeta)
		}
		if r.Layers[0].Saturation == nil || *r.Layers[0].Saturation <= 0 || *r.Layers[0].Saturation > 1 {
			t.Fatalf("%s: saturation of features.0 = %v", pl, r.Layers[0].Saturation)
		}
	}
}

func TestRunErrors(t *testing.T) {
	cases := map[string][]string{
		"-batch-size":   {"-batch-size", "0"},
		"-model":        {"-model", "vgg99"},
		"-activation":   {"-activation", "swish"},
		"-placements":   {"-placements", "before"},
		"-dataset":      {"-dataset", "imagenet"},
		"fashion-mnist": {"-dataset", "fashion-mnist", "-data-dir", "/nonexistent/fmnist"},
		"-epochs":       {"-epochs", "-1"},
		"-train-per-class cannot be combined with -train-subset":    {"-train-per-class", "3", "-train-subset", "30"},
		"-test-per-class cannot be combined with -test-subset":      {"-test-per-class", "3", "-test-subset", "30"},
		"-train-per-class and -test-per-class must not be negative": {"-test-per-class", "-3"},
	}
	for want, args := range cases {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "-quiet", "-out", t.TempDir()), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: error %v should mention %q", args, err, want)
		}
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr); !errors.Is(err, flag.ErrHelp) ||
		!strings.Contains(stderr.String(), "-placements") {
		t.Fatalf("-h: %v\n%s", err, stderr.String())
	}
}

// TestEveryModel runs the study on a handful of images with every registered model (behind -short: the big nets
// take a while in pure Go).
func TestEveryModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains every zoo model briefly")
	}
	for _, name := range zoo.Names() {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"-model", name, "-placements", "swapped", "-train-subset", "16",
				"-test-subset", "8", "-batch-size", "8", "-quiet", "-out", t.TempDir()}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), "swapped       test accuracy") {
				t.Fatalf("output:\n%s", stdout.String())
			}
		})
	}
}

// TestRedirectedStderrHasNoBars runs without -quiet with stderr going to a file: no progress bars (carriage-return
// redraws) and no analysis notice end up in it.
func TestRedirectedStderrHasNoBars(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-train-per-class", "5", "-test-per-class", "2", "-placements", "swapped",
		"-figures=false", "-out", t.TempDir()}, &stdout, f); err != nil {
		t.Fatal(err)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 0 {
		raw, _ := os.ReadFile(f.Name())
		t.Fatalf("stderr holds %q (%v)", raw, err)
	}
	if !strings.Contains(stdout.String(), "swapped       test accuracy") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
}
