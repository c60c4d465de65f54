package train

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// killHelperEnv makes the test binary, re-executed by TestKilledRunResumes, train a run into the directory it
// names instead of testing.
const killHelperEnv = "BNZOO_TRAIN_KILL_HELPER_DIR"

// TestKilledRunResumes starts a child process (this test binary in helper mode) training the tiny SGD run with a
// checkpoint after every step, kills it with SIGKILL as soon as the first checkpoint appears, then loads the newest
// checkpoint and resumes to the end: the result is bit-identical to the uninterrupted run.
func TestKilledRunResumes(t *testing.T) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		trainUntilKilled(t, dir)
		return
	}
	ref := reference(t, OptimizerSGD)
	tinySplits(t) // load MNIST before starting the clock on the child
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunResumes$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(time.Minute)
poll:
	for {
		select {
		case err := <-exited:
			t.Fatalf("the child exited (%v) before it was killed:\n%s", err, out.String())
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("no checkpoint after a minute:\n%s", out.String())
		case <-time.After(2 * time.Millisecond):
			if latest, _ := LatestCheckpoint(dir); latest != "" {
				break poll
			}
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	if err := <-exited; err == nil || err.Error() != "signal: killed" {
		t.Fatalf("child: %v, want it killed:\n%s", err, out.String())
	}
	latest, err := LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(latest)
	if err != nil {
		t.Fatalf("the last checkpoint of the killed run does not load: %v", err)
	}
	if s := ck.State.GlobalStep; s < 1 || s >= 10 {
		t.Fatalf("killed at step %d: the run should have been cut short", s)
	}
	t.Logf("child killed after writing %s", ck.State.Name)
	if d := ref.snap.diff(snap(resumeToEnd(t, dir))); d != "" {
		t.Fatalf("resumed after SIGKILL: %s", d)
	}
}

// trainUntilKilled is the child's side: the reference run (keeping 2 checkpoints), slowed down between steps so
// that the parent's kill lands in the middle of it.
func trainUntilKilled(t *testing.T, dir string) {
	tr, te := tinySplits(t)
	rc := tinyRun(OptimizerSGD)
	rc.Train.Keep = 2
	r, err := NewRun(dir, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Trainer.hooks.afterStep = func(*Trainer) { time.Sleep(100 * time.Millisecond) }
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
}
