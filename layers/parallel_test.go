package layers

import (
	"math"
	"math/rand"
	"runtime"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// unitOutputs runs a float32 swapped tanh unit forward and backward with the given GOMAXPROCS and returns the
// output and the input gradient.
func unitOutputs(t *testing.T, procs int) ([]float32, []float32) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	store, _ := NewStore(tensor.Float32, 3)
	b := NewBuilder(store, true)
	x := b.Input("x", 16, 8, 16, 16)
	rng := rand.New(rand.NewSource(1))
	data := make([]float32, 16*8*16*16)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	if err := G.Let(x, tensor.New(tensor.WithShape(16, 8, 16, 16), tensor.WithBacking(data))); err != nil {
		t.Fatal(err)
	}
	h, err := b.BatchNorm(x, "bn0")
	if err != nil {
		t.Fatal(err)
	}
	y, err := b.NormAct(h, "u", MustActivation("tanh"), Swapped)
	if err != nil {
		t.Fatal(err)
	}
	flat, _ := G.Reshape(y, tensor.Shape{16 * 8 * 16 * 16})
	cost, _ := G.Sum(flat)
	grads, err := G.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	var yv, gv G.Value
	G.Read(y, &yv)
	G.Read(grads[0], &gv)
	vm := G.NewTapeMachine(b.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return yv.(*tensor.Dense).Float32s(), gv.(*tensor.Dense).Float32s()
}

// TestParallelKernelsDeterministic: BN and activation kernels split work over goroutines; the result must be the
// same bits whatever the number of threads.
func TestParallelKernelsDeterministic(t *testing.T) {
	y1, g1 := unitOutputs(t, 1)
	y4, g4 := unitOutputs(t, 4)
	for i := range y1 {
		if math.Float32bits(y1[i]) != math.Float32bits(y4[i]) || math.Float32bits(g1[i]) != math.Float32bits(g4[i]) {
			t.Fatalf("element %d differs between GOMAXPROCS 1 and 4", i)
		}
	}
}
