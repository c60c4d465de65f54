package train

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/zoo"
)

// TestOverflowingUpdateDiverges is issue 15's `-lr 1e40` run: finite gradients times a huge learning rate give
// infinite weights. Before, the loss and gradients of that step were finite, so the step's checkpoint was written
// full of Inf and called "the last good one" when the next step's loss came out NaN. Now the step itself fails,
// naming the parameter, and no checkpoint exists.
func TestOverflowingUpdateDiverges(t *testing.T) {
	tr, te := tinySplits(t)
	dir := t.TempDir()
	rc := tinyRun(OptimizerSGD)
	rc.Train.LR, rc.Train.Schedule = 1e45, Schedule{}
	r, err := NewRun(dir, rc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Fit(context.Background(), tr, te)
	var de *DivergenceError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DivergenceError", err)
	}
	if de.Step != 1 || !strings.HasPrefix(de.Tensor, "parameter ") || !strings.HasSuffix(de.Tensor, " after the update") ||
		!math.IsInf(de.Value, 0) || de.LastCheckpoint != "" {
		t.Fatalf("error %+v: want step 1, an infinite parameter after the update, no last checkpoint", de)
	}
	if names, _ := Checkpoints(dir); len(names) != 0 {
		t.Fatalf("checkpoints of a diverged run: %v", names)
	}
}

// TestCheckpointRefusesNonFinite: a state holding a NaN or an infinity anywhere — parameter, BatchNorm statistic,
// optimizer slot — is never written as a checkpoint, and one found on disk is not resumed from.
func TestCheckpointRefusesNonFinite(t *testing.T) {
	for _, c := range []struct {
		name, tensor string
		poison       func(r *Run)
	}{
		{"parameter", "parameter classifier.bias", func(r *Run) {
			p, _ := r.Trainer.Model.Store.Lookup("classifier.bias")
			p.Value.Float32s()[2] = float32(math.Inf(-1))
		}},
		{"bn statistic", "features.1.bn.running_var", func(r *Run) {
			st, _ := r.Trainer.Model.Store.LookupBN("features.1.bn")
			st.Var[0] = math.NaN()
		}},
		{"optimizer state", "optimizer state classifier.weight.momentum_buffer", func(r *Run) {
			v := make([]float64, 10*128)
			v[4] = math.Inf(1)
			r.Trainer.opt.(*SGD).velocity["classifier.weight"] = v
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := NewRun(dir, tinyRun(OptimizerSGD))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// A healthy state one step in is written; the same position after the poison is refused.
			st := &r.Trainer.state
			st.GlobalStep, st.StepsPerEpoch, st.Position.Step = 1, 5, 1
			if err := r.checkpoint(r.Trainer); err != nil {
				t.Fatal(err)
			}
			c.poison(r)
			st.GlobalStep, st.Position.Step = 2, 2
			err = r.checkpoint(r.Trainer)
			var de *DivergenceError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), "not written") {
				t.Fatalf("err = %v, want a refused checkpoint", err)
			}
			if de.Tensor != c.tensor {
				t.Fatalf("refused for %q, want %q", de.Tensor, c.tensor)
			}
			if names, _ := Checkpoints(dir); len(names) != 1 || names[0] != "step-000000001" {
				t.Fatalf("checkpoints: %v, want only step 1 (written before the poison)", names)
			}
		})
	}
}

// TestLoadCheckpointRefusesNonFinite: a checkpoint holding a NaN (as builds without the check above could write)
// is not resumed from; the error names the tensor.
func TestLoadCheckpointRefusesNonFinite(t *testing.T) {
	ref := reference(t, OptimizerSGD)
	dir := copyRun(t, ref.dir, "step-000000002")
	ck := filepath.Join(dir, checkpointsDir, "step-000000002")
	m, err := zoo.Load(filepath.Join(ck, modelFile))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := m.Store.Lookup("features.0.conv.weight")
	p.Value.Float32s()[3] = float32(math.NaN())
	if err := m.Save(filepath.Join(ck, modelFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(dir, nil, nil); err == nil || !strings.Contains(err.Error(), "diverged state") ||
		!strings.Contains(err.Error(), "features.0.conv.weight") {
		t.Fatalf("resuming from a checkpoint with a NaN weight: %v", err)
	}
}
