package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestSingleConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run([]string{"-single", "-models", "vgg_mini", "-activations", "softsign", "-placements", "swapped",
		"-batch", "4", "-warmup", "1", "-steps", "1", "-input", "1x8x8"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	if r.Model != "vgg_mini" || r.Placement != "swapped" || r.Batch != 4 || r.TrainImgS <= 0 || r.InferImgS <= 0 ||
		r.Params == 0 || r.Backend == "" || r.Provenance.GoVersion == "" || r.Provenance.GOMAXPROCS < 1 {
		t.Fatalf("result %+v", r)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-input", "32x32"},
		{"-batch", "0"},
		{"-single", "-models", "nope"},
		{"-single", "-activations", "nope", "-models", "vgg_mini"},
	} {
		err := run(args, &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// TestHelp checks that -h is not an error (exit 0) and that the usage leaves out -single, the parent's flag for
// its children.
func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	err := run([]string{"-h"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		t.Fatalf("-h: err = %v, want flag.ErrHelp and no usage error", err)
	}
	usage := stderr.String()
	if !strings.Contains(usage, "-models string") || !strings.Contains(usage, "(default 128)") ||
		!strings.Contains(usage, `(default "tanh")`) || strings.Contains(usage, "-single") {
		t.Fatalf("usage:\n%s", usage)
	}
}
