package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/internal/runlock"
)

// TestResumeWithoutCheckpointsDir: a run whose checkpoints/ folder is gone used to restart from step 0, train up to
// its first checkpoint and then fail ("stat …/checkpoints: no such file or directory"), losing that training.
// Resume now refuses at once, naming the folder.
func TestResumeWithoutCheckpointsDir(t *testing.T) {
	ref := reference(t, OptimizerSGD)
	dir := copyRun(t, ref.dir, "step-000000002")
	if err := os.RemoveAll(filepath.Join(dir, checkpointsDir)); err != nil {
		t.Fatal(err)
	}
	r, err := Resume(dir, nil, nil)
	if err == nil {
		r.Close()
		t.Fatal("resumed a run whose checkpoints are gone")
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, checkpointsDir)+" is missing") {
		t.Fatalf("error %q should name the missing folder", err)
	}
	// Recreating it, as the message says, restarts the run from scratch.
	if err := os.Mkdir(filepath.Join(dir, checkpointsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err = Resume(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.Trainer.State(); st.GlobalStep != 0 {
		t.Fatalf("restarted at global step %d", st.GlobalStep)
	}
}

// TestRunDirectoryLocked: two Runs on one directory used to both train to the end, the second one's start-up
// clean-up deleting the first one's temporary checkpoint folders. The second NewRun or Resume now fails at once,
// naming the lock, and leaves the directory alone.
func TestRunDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRun(dir, tinyRun(OptimizerSGD))
	if err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, checkpointsDir, ".tmp-step-000000001-123")
	if err := os.Mkdir(partial, 0o755); err != nil { // the first run's checkpoint being written
		t.Fatal(err)
	}
	if _, err := Resume(dir, nil, nil); err == nil || !errors.Is(err, runlock.ErrLocked) ||
		!strings.Contains(err.Error(), filepath.Join(dir, lockFile)) {
		t.Fatalf("Resume while the run is open: %v, want an error naming the lock", err)
	}
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("the refused Resume touched the running run's files: %v", err)
	}
	if _, err := NewRun(filepath.Join(dir), tinyRun(OptimizerSGD)); err == nil {
		t.Fatal("NewRun on a directory holding a run")
	}
	r.Close()
	again, err := Resume(dir, nil, nil)
	if err != nil {
		t.Fatalf("Resume after Close: %v", err)
	}
	again.Close()
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Fatalf("the leftover of an interrupted write should be cleaned up once the lock is free: %v", err)
	}
	// Two NewRuns racing for one fresh directory: the lock lets only one create it.
	fresh := filepath.Join(t.TempDir(), "run")
	first, err := NewRun(fresh, tinyRun(OptimizerSGD))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := NewRun(fresh, tinyRun(OptimizerSGD)); err == nil {
		t.Fatal("a second NewRun on the same directory succeeded")
	}
}
