package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
)

// fuzzRun trains a tiny run (MobileNetV1 at width 0.02 on eight synthetic 4×4 images, batches of 4, a checkpoint
// after every step) and returns its run.json and the files of its mid-epoch checkpoint.
func fuzzRun(f *testing.F) (runJSON, state, model, optim []byte) {
	f.Helper()
	split := &datasets.Split{Name: "synthetic", N: 8, C: 1, H: 4, W: 4, Classes: []string{"a", "b", "c"},
		Mean: []float64{0.5}, Std: []float64{0.25}, Labels: []int{0, 1, 2, 0, 1, 2, 0, 1}, Images: make([]uint8, 8*16)}
	for i := range split.Images {
		split.Images[i] = uint8(i * 37)
	}
	rc := RunConfig{Model: zoo.Config{Arch: "mobilenet_v1", Classes: 3, InputShape: [3]int{1, 4, 4}, Width: 0.02,
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 3},
		Data:  DataSpec{Name: "synthetic"},
		Train: Config{Epochs: 2, BatchSize: 4, Optimizer: OptimizerAdam, LR: 0.01, CheckpointEvery: 1, Seed: 5}}
	dir := f.TempDir()
	r, err := NewRun(dir, rc)
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Fit(context.Background(), split, split); err != nil {
		f.Fatal(err)
	}
	read := func(parts ...string) []byte {
		b, err := os.ReadFile(filepath.Join(append([]string{dir}, parts...)...))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	ck := []string{checkpointsDir, "step-000000003"}
	return read(runFile), read(append(ck, stateFile)...), read(append(ck, modelFile)...), read(append(ck, optimizerFile)...)
}

// FuzzResume feeds a checkpoint's three files — state.json, model.safetensors and optimizer.safetensors — through
// Resume. Whatever the bytes, Resume must return a run or an error, never panic; a run it returns stands at a
// valid position with finite weights, and closing it releases the run directory.
func FuzzResume(f *testing.F) {
	runJSON, state, model, optim := fuzzRun(f)
	f.Add(state, model, optim)
	var st map[string]any
	if err := json.Unmarshal(state, &st); err != nil {
		f.Fatal(err)
	}
	st["position"] = map[string]any{"epoch": 0, "step": 99}
	bad, _ := json.Marshal(st)
	f.Add(bad, model, optim)
	f.Add([]byte("{}"), model[:len(model)/2], optim)
	f.Fuzz(func(t *testing.T, state, model, optim []byte) {
		dir := t.TempDir()
		ck := filepath.Join(dir, checkpointsDir, "step-000000003")
		if err := os.MkdirAll(ck, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{filepath.Join(dir, runFile): runJSON, filepath.Join(ck, stateFile): state,
			filepath.Join(ck, modelFile): model, filepath.Join(ck, optimizerFile): optim} {
			if err := os.WriteFile(name, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r, err := Resume(dir, nil, nil)
		if err != nil {
			return
		}
		s := r.Trainer.State()
		if s.Position.Step < 0 || s.Position.Step > s.StepsPerEpoch || s.Position.Epoch > r.Config.Train.Epochs {
			t.Fatalf("resumed at an impossible position %+v of %d-step epochs", s.Position, s.StepsPerEpoch)
		}
		if err := checkModelState(r.Trainer.Model); err != nil {
			t.Fatalf("resumed with %v", err)
		}
		r.Close()
		l, err := lockRun(dir)
		if err != nil {
			t.Fatalf("the run is still locked after Close: %v", err)
		}
		l.Unlock()
	})
}
