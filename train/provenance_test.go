package train

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/internal/provenance"
)

// TestRunRecordsProvenance checks that a run started with Config.Provenance set writes it to run.json and to its
// checkpoints, that a resumed run keeps it, and that a run without it writes no provenance key.
func TestRunRecordsProvenance(t *testing.T) {
	tr, te := tinySplits(t)
	info := provenance.Collect()
	info.Revision, info.Dirty = "0123abcd", true // test binaries carry no VCS stamp
	dir := t.TempDir()
	rc := tinyRun(OptimizerSGD)
	rc.Train.Epochs, rc.Train.Provenance = 1, &info
	r, err := NewRun(dir, rc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Fit(context.Background(), tr, te)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, runFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"provenance": {`, `"revision": "0123abcd"`, `"dirty": true`, `"go_version": "go`, `"backend": "`, `"gomaxprocs": `} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("run.json lacks %s:\n%s", want, raw)
		}
	}
	again, err := Resume(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if p := again.Config.Train.Provenance; p == nil || *p != info {
		t.Fatalf("resumed run's provenance %+v, want %+v", p, info)
	}
	plain := t.TempDir()
	r, err = NewRun(plain, tinyRun(OptimizerSGD))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if raw, err := os.ReadFile(filepath.Join(plain, runFile)); err != nil || strings.Contains(string(raw), "provenance") {
		t.Fatalf("run.json without provenance: %v\n%s", err, raw)
	}
}
