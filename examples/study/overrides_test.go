package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverridesValidated: in run, list and export, an override that is NaN, infinite or out of range is a usage
// error naming the flag. Before, `-lr NaN` and `-train-per-class -5` were silently replaced by the preset's values
// (exit 0, grid.json written with the preset's lr and per-class sizes).
func TestOverridesValidated(t *testing.T) {
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"-lr", []string{"-lr", "NaN"}},
		{"-lr", []string{"-lr", "+Inf"}},
		{"-lr", []string{"-lr", "0"}},
		{"-train-per-class", []string{"-train-per-class", "-5"}},
		{"-test-per-class", []string{"-test-per-class", "-2"}},
		{"-workers", []string{"-workers", "-1"}},
	} {
		for _, cmd := range []string{"list", "export", "run"} {
			if cmd != "run" && c.flag == "-workers" {
				continue // a flag of run only
			}
			out := t.TempDir()
			args := []string{cmd}
			if cmd == "export" {
				args = append(args, "-dir", filepath.Join(out, "study"), "-out", filepath.Join(out, "export"))
			} else if cmd == "run" {
				args = append(args, "-dir", filepath.Join(out, "study"))
			}
			_, err := runArgs(t, append(append(args, tiny...), c.args...)...)
			if !errors.Is(err, errUsage) || exitCode(err) != 2 || !strings.Contains(err.Error(), c.flag) {
				t.Errorf("%s %v: %v, want a usage error naming %s", cmd, c.args, err, c.flag)
			}
			for _, d := range []string{"study", "export"} {
				if _, err := os.Stat(filepath.Join(out, d)); !os.IsNotExist(err) {
					t.Errorf("%s %v: %s was created", cmd, c.args, d)
				}
			}
		}
	}
}
