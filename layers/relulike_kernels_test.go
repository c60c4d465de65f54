package layers

import (
	"math"
	"math/rand"
	"testing"
)

// TestReluLikeAcceleratorBits checks, in a build with a float32 elementwise accelerator (-tags dnnl), that its leaky
// ReLU, ELU and SiLU loops give the Go kernels' bits, forward and backward, on the fast-math inputs: ±0, subnormals,
// the branch points of fastExpm1 and fastExp (±0.05, ±700 are beyond float32's e^x but inside its range of x),
// ±Inf, NaN and 650 000 ordinary values. (GELU has no accelerated loop.)
func TestReluLikeAcceleratorBits(t *testing.T) {
	if eltAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	xs := append(fastMathInputs(), -0.05, -0.04999, -699.9, -700, -700.1, -800, -1e-30)
	rng := rand.New(rand.NewSource(9))
	dy := make([]float32, len(xs))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64())
	}
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) }
	for _, name := range []string{"leaky_relu", "leaky_relu:0.3", "leaky_relu:0", "elu", "elu:0.5", "silu"} {
		act := MustActivation(name)
		goY, cY := make([]float32, len(xs)), make([]float32, len(xs))
		activationForward(act, xs, goY)
		if ok, err := accelForward(act, xs, cY); !ok || err != nil {
			t.Fatalf("%s: accelerated forward ran %v, %v", name, ok, err)
		}
		for i, x := range xs {
			if !same(goY[i], cY[i]) {
				t.Fatalf("%s(%g): Go %g, C %g", name, x, goY[i], cY[i])
			}
		}
		src := goY
		if act.gradFromInput() {
			src = xs
		}
		goDx, cDx := make([]float32, len(xs)), make([]float32, len(xs))
		activationBackward(act, src, dy, goDx)
		if ok, err := accelBackward(act, src, dy, cDx); !ok || err != nil {
			t.Fatalf("%s: accelerated backward ran %v, %v", name, ok, err)
		}
		for i, x := range xs {
			if !same(goDx[i], cDx[i]) {
				t.Fatalf("%s'(%g)·%g: Go %g, C %g", name, x, dy[i], goDx[i], cDx[i])
			}
		}
	}
	if ok, _ := accelForward(MustActivation("gelu"), xs, make([]float32, len(xs))); ok {
		t.Error("gelu ran on the accelerator, whose C loops have no bit-identical erfc")
	}
}
