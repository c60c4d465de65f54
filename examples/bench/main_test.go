package main

import (
	"bytes"
	"encoding/json"
	"errors"
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
		r.Params == 0 || r.Backend == "" {
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
