package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// torchPython is Debian's interpreter, which has python3-torch (a pyenv python3 first on PATH may not).
const torchPython = "/usr/bin/python3"

// TestPyTorchScripts runs pytorch/bench.py --check (every PyTorch variant computes eager's logits) and one tiny
// pytorch/compare.py round against this program's binary, and checks the raw lines and that the ratio table names
// the winning PyTorch variant in each "best" column. The check runs beside the build and compare.py, to keep the
// test short: each Python process spends most of its time importing torch.
func TestPyTorchScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PyTorch processes")
	}
	if out, err := exec.Command(torchPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (%v): %s", torchPython, err, bytes.TrimSpace(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var checkOut bytes.Buffer
	check := exec.CommandContext(ctx, torchPython, "pytorch/bench.py", "--check", "vgg_mini", "--input", "3x16x16")
	check.Stdout, check.Stderr = &checkOut, &checkOut
	if err := check.Start(); err != nil {
		t.Fatal(err)
	}
	checkDone := make(chan error, 1) // if the test stops early, cancel kills the check and this reaps it
	go func() { checkDone <- check.Wait() }()

	dir := t.TempDir()
	bin := filepath.Join(dir, "bench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "results.jsonl")
	var table, progress bytes.Buffer
	compare := exec.CommandContext(ctx, torchPython, "pytorch/compare.py", "--go-bin", bin, "--models", "vgg_mini",
		"--configs", "tanh/swapped", "--batch", "4", "--warmup", "0", "--steps", "1", "--rounds", "1",
		"--input", "3x16x16", "--out", out)
	compare.Stdout, compare.Stderr = &table, &progress
	compareErr := compare.Run()
	if err := <-checkDone; err != nil || !strings.Contains(checkOut.String(), ": ok") {
		t.Errorf("bench.py --check: %v\n%s", err, checkOut.String())
	}
	if compareErr != nil {
		t.Fatalf("compare.py: %v\n%s\n%s", compareErr, progress.String(), table.String())
	}

	row := ""
	for _, line := range strings.Split(table.String(), "\n") {
		if strings.HasPrefix(line, "| vgg_mini | tanh | swapped | ") {
			row = line // the first table's row comes first
			break
		}
	}
	cells := strings.Split(row, "|")
	if len(cells) != 13 {
		t.Fatalf("no 11-column row for vgg_mini in the table:\n%s", table.String())
	}
	for _, c := range []struct {
		cell string
		want []string
	}{
		{cells[5], []string{"(eager)", "(channels_last)"}},
		{cells[8], []string{"(eager)", "(channels_last)", "(frozen)"}},
	} {
		named := false
		for _, w := range c.want {
			named = named || strings.HasSuffix(strings.TrimSpace(c.cell), w)
		}
		if !named {
			t.Errorf("best cell %q names none of %v\n%s", c.cell, c.want, table.String())
		}
	}

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sides []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		side := r["side"].(string)
		if v, ok := r["variant"].(string); ok {
			side += " " + v
			if (v == "frozen") != (r["train_img_s"] == nil) || (v == "frozen") != (r["jit"] != nil) {
				t.Errorf("%s: train_img_s %v, jit %v", v, r["train_img_s"], r["jit"])
			}
		}
		sides = append(sides, side)
	}
	if got, want := strings.Join(sides, ","), "go,pytorch eager,pytorch channels_last,pytorch frozen"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
}
