package train

import (
	"math/rand"
	"runtime"
	"testing"
	"weak"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// TestPassesAreFreed checks that a trainer's compiled graphs and every tensor they computed are garbage once the
// trainer is dropped, closed or not. Gorgonia's tape machine has a finalizer, and Go never collects a reference
// cycle through such an object; a Read target inside the pass closed such a cycle and leaked every pass (15 GB over a
// 24-run study).
func TestPassesAreFreed(t *testing.T) {
	defer func(v bool) { useTapeMachine = v }(useTapeMachine)
	for _, c := range []struct{ tape, closeIt bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
		closeIt := c.closeIt
		useTapeMachine = c.tape
		m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
			Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1}, tensor.Float32)
		if err != nil {
			t.Fatal(err)
		}
		trn, err := NewTrainer(m, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewSource(1))
		b := datasets.Batch{N: 4, X: make([]float32, 4*28*28), Y: []int{1, 2, 3, 4}}
		for i := range b.X {
			b.X[i] = float32(rng.NormFloat64())
		}
		if _, _, err := trn.Step(&b); err != nil {
			t.Fatal(err)
		}
		if _, _, err := trn.Predict(&b); err != nil {
			t.Fatal(err)
		}
		var values []weak.Pointer[tensor.Dense]
		for _, p := range trn.passes {
			d, ok := (*p.logits).(*tensor.Dense)
			if !ok {
				t.Fatalf("logits value is %T", *p.logits)
			}
			values = append(values, weak.Make(d))
			if c.tape {
				if d, ok = p.graph.Logits.Value().(*tensor.Dense); !ok {
					t.Fatalf("logits node value is %T", p.graph.Logits.Value())
				}
				values = append(values, weak.Make(d))
			}
		}
		if len(trn.passes) != 2 {
			t.Fatalf("%d passes, want 2", len(trn.passes))
		}
		pool := weak.Make(trn.pool)
		if closeIt {
			trn.Close()
		}
		trn, m = nil, nil
		for range 4 { // the first cycle runs the machines' finalizers, the next frees what they held
			runtime.GC()
		}
		for i, w := range values {
			if w.Value() != nil {
				t.Errorf("tape=%v close=%v: logits tensor %d is still alive after the trainer was dropped", c.tape, closeIt, i)
			}
		}
		if pool.Value() != nil {
			t.Errorf("tape=%v close=%v: the buffer pool is still alive after the trainer was dropped", c.tape, closeIt)
		}
	}
}
