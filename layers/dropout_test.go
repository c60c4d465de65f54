package layers

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// runDropout returns y and dSum(y)/dx for an input of ones, so dx must equal the mask y.
func runDropout(t *testing.T, seed int64, training bool, n int) (y, dx []float64) {
	t.Helper()
	store, _ := NewStore(tensor.Float64, seed)
	b := NewBuilder(store, training)
	x := b.Input("x", n)
	ones := make([]float64, n)
	for i := range ones {
		ones[i] = 1
	}
	if err := G.Let(x, tensor.New(tensor.WithShape(n), tensor.WithBacking(ones))); err != nil {
		t.Fatal(err)
	}
	d, err := b.Dropout(x, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(d)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	var yv, gv G.Value
	G.Read(d, &yv)
	G.Read(grads[0], &gv)
	vm := G.NewTapeMachine(b.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return yv.(*tensor.Dense).Float64s(), gv.(*tensor.Dense).Float64s()
}

func TestDropout(t *testing.T) {
	const n = 20000
	y, dx := runDropout(t, 1, true, n)
	kept := 0
	for i, v := range y {
		if v != 0 && math.Abs(v-1/0.75) > 1e-15 {
			t.Fatalf("y[%d] = %v, want 0 or 1/(1-p)", i, v)
		}
		if dx[i] != v { // d(Σ mask·x)/dx = mask, and y = mask for x = 1
			t.Fatalf("dx[%d] = %v, want the mask %v", i, dx[i], v)
		}
		if v != 0 {
			kept++
		}
	}
	if frac := float64(kept) / n; math.Abs(frac-0.75) > 0.02 {
		t.Fatalf("kept fraction %v, want ≈ 0.75", frac)
	}
	y2, _ := runDropout(t, 1, true, n)
	y3, _ := runDropout(t, 2, true, n)
	same, diff := true, false
	for i := range y {
		same = same && y[i] == y2[i]
		diff = diff || y[i] != y3[i]
	}
	if !same || !diff {
		t.Fatalf("same seed same mask: %v; other seed other mask: %v", same, diff)
	}
	ye, dxe := runDropout(t, 1, false, 100)
	for i := range ye {
		if ye[i] != 1 || dxe[i] != 1 {
			t.Fatalf("evaluation dropout must be the identity: y %v dx %v", ye[i], dxe[i])
		}
	}
	if _, err := NewBuilder(newTestStore(t), true).Dropout(nil, 1); err == nil {
		t.Fatal("p = 1 should be rejected")
	}
}

func TestInitialisers(t *testing.T) {
	s1, _ := NewStore(tensor.Float32, 42)
	s2, _ := NewStore(tensor.Float32, 42)
	s3, _ := NewStore(tensor.Float32, 43)
	var w [3]*Param
	for i, s := range []*Store{s1, s2, s3} {
		p, err := s.Param("conv.weight", WeightParam, []int{64, 32, 3, 3}, KaimingNormalFanOut)
		if err != nil {
			t.Fatal(err)
		}
		w[i] = p
	}
	d1, d2, d3 := w[0].Value.Float32s(), w[1].Value.Float32s(), w[2].Value.Float32s()
	var sum, sq float64
	differs := false
	for i := range d1 {
		if d1[i] != d2[i] {
			t.Fatal("same seed gave different weights")
		}
		differs = differs || d1[i] != d3[i]
		sum += float64(d1[i])
		sq += float64(d1[i]) * float64(d1[i])
	}
	if !differs {
		t.Fatal("different seeds gave the same weights")
	}
	n := float64(len(d1))
	std, wantStd := math.Sqrt(sq/n-(sum/n)*(sum/n)), math.Sqrt(2.0/(64*9))
	if math.Abs(std-wantStd)/wantStd > 0.03 || math.Abs(sum/n) > 0.003 {
		t.Fatalf("kaiming fan-out std %v mean %v, want std %v mean 0", std, sum/n, wantStd)
	}
	lin, _ := s1.Param("fc.weight", WeightParam, []int{10, 400}, LinearDefault)
	bound := 1 / math.Sqrt(400)
	maxAbs := 0.0
	for _, v := range lin.Value.Float32s() {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs > bound || maxAbs < 0.9*bound {
		t.Fatalf("linear init max |w| %v, want just under %v", maxAbs, bound)
	}
	if _, err := s1.Param("conv.weight", WeightParam, []int{1, 2}, nil); err == nil {
		t.Fatal("a shape mismatch on an existing parameter should fail")
	}
	if got := s1.Count(); got != 64*32*9+4000 {
		t.Fatalf("Count = %d", got)
	}
}
