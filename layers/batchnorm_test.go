package layers

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnFixture builds x → BatchNorm over a (4, 2, 1, 2) float64 input with known values.
func bnFixture(t *testing.T, store *Store, training bool) (*Builder, *G.Node, *G.Node) {
	t.Helper()
	b := NewBuilder(store, training)
	x := b.Input("x", 4, 2, 1, 2)
	y, err := b.BatchNorm(x, "bn")
	if err != nil {
		t.Fatal(err)
	}
	return b, x, y
}

// Channel 0 holds 1..8, channel 1 holds 10, 10, 10, 10, 20, 20, 20, 20 (sample-major NCHW order below).
var bnInput = []float64{1, 2, 10, 10, 3, 4, 10, 10, 5, 6, 20, 20, 7, 8, 20, 20}

func runOnce(t *testing.T, b *Builder, x, y *G.Node, data []float64) []float64 {
	t.Helper()
	if err := G.Let(x, tensor.New(tensor.WithShape(4, 2, 1, 2), tensor.WithBacking(append([]float64(nil), data...)))); err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(y, &out)
	vm := G.NewTapeMachine(b.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), out.(*tensor.Dense).Float64s()...)
}

func TestBatchNormTrainingMatchesHandComputed(t *testing.T) {
	store := newTestStore(t)
	b, x, y := bnFixture(t, store, true)
	got := runOnce(t, b, x, y, bnInput)
	// Channel 0: mean 4.5, biased var 5.25, unbiased 6; channel 1: mean 15, biased var 25, unbiased 200/7.
	m0, v0, m1, v1 := 4.5, 5.25, 15.0, 25.0
	for i, xv := range bnInput {
		c := (i / 2) % 2
		var want float64
		if c == 0 {
			want = (xv - m0) / math.Sqrt(v0+1e-5)
		} else {
			want = (xv - m1) / math.Sqrt(v1+1e-5)
		}
		if math.Abs(got[i]-want) > 1e-12 {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want)
		}
	}
	st, _ := store.LookupBN("bn")
	wantMean := []float64{0.1 * 4.5, 0.1 * 15}
	wantVar := []float64{0.9 + 0.1*6, 0.9 + 0.1*200.0/7}
	for k := 0; k < 2; k++ {
		if math.Abs(st.Mean[k]-wantMean[k]) > 1e-12 || math.Abs(st.Var[k]-wantVar[k]) > 1e-12 {
			t.Fatalf("running stats channel %d = (%v, %v), want (%v, %v)", k, st.Mean[k], st.Var[k], wantMean[k], wantVar[k])
		}
	}
	if st.Tracked != 1 {
		t.Fatalf("num_batches_tracked = %d, want 1", st.Tracked)
	}
}

func TestBatchNormEvalUsesRunningStats(t *testing.T) {
	store := newTestStore(t)
	st, _ := store.BNStats("bn", 2)
	st.Mean[0], st.Var[0], st.Mean[1], st.Var[1] = 2, 4, -1, 0.25
	b, x, y := bnFixture(t, store, false)
	gamma, _ := store.Lookup("bn.weight")
	beta, _ := store.Lookup("bn.bias")
	gamma.Value.Float64s()[1] = 3
	beta.Value.Float64s()[1] = 0.5
	got := runOnce(t, b, x, y, bnInput)
	for i, xv := range bnInput {
		var want float64
		if (i/2)%2 == 0 {
			want = (xv - 2) / math.Sqrt(4+1e-5)
		} else {
			want = 3*(xv+1)/math.Sqrt(0.25+1e-5) + 0.5
		}
		if math.Abs(got[i]-want) > 1e-12 {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want)
		}
	}
	if st.Mean[0] != 2 || st.Var[1] != 0.25 || st.Tracked != 0 {
		t.Fatal("evaluation changed the running statistics")
	}
}

// TestBatchNormStatsSurviveMachinesAndPhases is the trap Gorgonia's own BN falls into: building a machine or
// switching phases must not reset the running statistics.
func TestBatchNormStatsSurviveMachinesAndPhases(t *testing.T) {
	store := newTestStore(t)
	b, x, y := bnFixture(t, store, true)
	runOnce(t, b, x, y, bnInput)
	st, _ := store.LookupBN("bn")
	after1 := append([]float64(nil), st.Var...)

	// A second graph in evaluation mode over the same store, and a fresh machine for it.
	be, xe, ye := bnFixture(t, store, false)
	runOnce(t, be, xe, ye, bnInput)
	if st.Var[0] != after1[0] || st.Var[1] != after1[1] {
		t.Fatalf("eval graph changed running var: %v → %v", after1, st.Var)
	}
	// Switch the training graph to eval and back, building new machines each time.
	b.Phase.SetTraining(false)
	runOnce(t, b, x, y, bnInput)
	if st.Var[0] != after1[0] {
		t.Fatal("eval pass on the training graph changed running stats")
	}
	b.Phase.SetTraining(true)
	runOnce(t, b, x, y, bnInput)
	want := 0.9*after1[0] + 0.1*6
	if math.Abs(st.Var[0]-want) > 1e-12 || st.Tracked != 2 {
		t.Fatalf("second training pass: running var %v (tracked %d), want %v (2)", st.Var[0], st.Tracked, want)
	}
}

func TestBatchNormErrors(t *testing.T) {
	store := newTestStore(t)
	b := NewBuilder(store, true)
	x := b.Input("x", 1, 2) // one value per channel cannot be normalised in training
	y, err := b.BatchNorm(x, "bn")
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(x, tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float64{1, 2}))); err != nil {
		t.Fatal(err)
	}
	_ = y
	vm := G.NewTapeMachine(b.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err == nil {
		t.Fatal("training BN over one value per channel should fail")
	}
	if _, err := b.BatchNorm(b.Input("z", 2, 3), "bn"); err == nil {
		t.Fatal("reusing BN name with another channel count should fail")
	}
}
