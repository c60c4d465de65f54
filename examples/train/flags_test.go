package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNonFiniteFlags: NaN and ±Inf parse as float flags. -lr +Inf used to pass validation and fail only when
// run.json was written ("json: unsupported value: +Inf", exit 1, no flag named) after checkpoints/ was created;
// -width NaN passed the width check. Each is now a usage error naming the flag, and no directory is created.
func TestNonFiniteFlags(t *testing.T) {
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"-lr", []string{"-lr", "+Inf"}},
		{"-lr", []string{"-lr", "1e999"}},
		{"-gamma", []string{"-schedule", "multistep", "-milestones", "1", "-gamma", "+Inf"}},
		{"-width", []string{"-model", "mobilenet_v1", "-width", "+Inf"}},
		{"-width", []string{"-model", "mobilenet_v1", "-width", "NaN"}},
		{"-momentum", []string{"-momentum", "NaN"}},
		{"-weight-decay", []string{"-weight-decay", "-Inf"}},
		{"-warmup-epochs", []string{"-warmup-epochs", "NaN"}},
		// Issue 15, item 1: this allocated MobileNetV1 at width 1000 (terabytes) before failing.
		{"-width", []string{"-model", "mobilenet_v1", "-width", "1000"}},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := run(ctx, append(c.args, "-quiet", "-run-dir", dir), &bytes.Buffer{}, &bytes.Buffer{}, nil, nil)
		cancel()
		if !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%v: error %v (exit %d), want a flag error naming %s with exit 2", c.args, err, exitCode(err), c.flag)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%v: the run directory was created (%v)", c.args, err)
		}
	}
}
