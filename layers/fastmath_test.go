package layers

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// ulpDiff32 returns how many float32 values lie between a and b (0 when equal, both NaN counts as equal).
func ulpDiff32(a, b float32) int64 {
	if a != a && b != b {
		return 0
	}
	if a == b {
		return 0
	}
	ord := func(f float32) int64 {
		u := int64(math.Float32bits(f))
		if u&(1<<31) != 0 {
			return -(u &^ (1 << 31))
		}
		return u
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// fastMathInputs returns special values, values around the branch points and many random ones.
func fastMathInputs() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 1e-38, 1e-20, 1e-7, -1e-7, 0.04999, 0.05, 0.05001,
		0.5, 0.625, 1, 2, 8.99, 9.0, 9.01, 9.09999, 9.1, 9.2, 20, 87, 88, 89, 100, 103, 104, 105, 1e10,
		math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	n := len(xs)
	for _, x := range xs[:n] {
		xs = append(xs, -x, math.Nextafter32(x, 0), math.Nextafter32(x, 200))
	}
	rng := rand.New(rand.NewSource(3))
	for range 400000 {
		xs = append(xs, float32(rng.NormFloat64()*3))
	}
	for range 100000 {
		xs = append(xs, float32((rng.Float64()*2-1)*120))
	}
	for v := float32(1e-30); v < 200; v *= 1.001 {
		xs = append(xs, v, -v)
	}
	return xs
}

func TestFastTanhFloat32(t *testing.T) {
	checkFast32(t, "tanh", math.Tanh, fastTanh)
	checkFast32(t, "sigmoid", sigmoid, fastSigmoid)
	checkFast32(t, "lecun_tanh", func(z float64) float64 { return lecunScale * math.Tanh(lecunSlope*z) },
		func(z float64) float64 { return lecunScale * fastTanh(lecunSlope*z) })
	neg := func(f func(float64) float64) func(float64) float64 {
		return func(z float64) float64 { return f(-math.Abs(z)) }
	}
	checkFast32(t, "expm1 (z ≤ 0)", neg(math.Expm1), neg(fastExpm1))
	checkFast32(t, "exp (z ≤ 0)", neg(math.Exp), neg(fastExpNeg))
}

// TestReluLikeBackward32 checks the float32 backward kernels of the ReLU-like activations against the float64 ones
// on the fast-math inputs: dx = float32(f'(x))·dy, so with dy = 1 they must agree to one float32 rounding of f'.
func TestReluLikeBackward32(t *testing.T) {
	xs := fastMathInputs()
	ones32, ones64 := make([]float32, len(xs)), make([]float64, len(xs))
	xs64 := make([]float64, len(xs))
	for i, x := range xs {
		ones32[i], ones64[i], xs64[i] = 1, 1, float64(x)
	}
	for _, name := range []string{"leaky_relu", "leaky_relu:0.3", "elu", "elu:0.5", "silu", "gelu"} {
		act := MustActivation(name)
		src32, src64 := xs, xs64
		if !act.gradFromInput() { // leaky ReLU reads y
			src32, src64 = make([]float32, len(xs)), make([]float64, len(xs))
			activationForward(act, xs, src32)
			activationForward(act, xs64, src64)
		}
		dx32, dx64 := make([]float32, len(xs)), make([]float64, len(xs))
		activationBackward(act, src32, ones32, dx32)
		activationBackward(act, src64, ones64, dx64)
		for i, x := range xs {
			if d := ulpDiff32(float32(dx64[i]), dx32[i]); d > 1 {
				t.Fatalf("%s'(%g) = %g in float32, %g in float64", name, x, dx32[i], dx64[i])
			}
		}
	}
}

func checkFast32(t *testing.T, name string, exact, fast func(float64) float64) {
	t.Helper()
	var off int
	xs := fastMathInputs()
	for _, x := range xs {
		want, got := float32(exact(float64(x))), float32(fast(float64(x)))
		if d := ulpDiff32(want, got); d > 1 || math.Signbit(float64(want)) != math.Signbit(float64(got)) {
			t.Fatalf("%s(%g) = %g, want %g (%d ulp)", name, x, got, want, d)
		} else if d == 1 {
			off++
		}
	}
	t.Logf("%s: %d of %d float32 results differ from the math package's by one ulp", name, off, len(xs))
}

func TestFastExp(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	worst := 0.0
	for i := range 1000000 {
		y := (rng.Float64()*2 - 1) * expMax
		if i%2 == 0 {
			y /= 30
		}
		want := math.Exp(y)
		if e := math.Abs(fastExp(y)-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 1e-12 {
		t.Fatalf("fastExp relative error %g", worst)
	}
	t.Logf("fastExp worst relative error %g", worst)
}

// TestFastSlices checks that the loop kernels compute exactly what the scalar functions do, and that the
// activation op's float32 forward pass stays within one ulp of the float64 definition.
func TestFastSlices(t *testing.T) {
	xs := fastMathInputs()
	out := make([]float32, len(xs))
	for _, c := range []struct {
		name             string
		in, shift, outSc float64
		fn               func(float64) float64
	}{
		{"tanh", 1, 0, 1, fastTanh},
		{"shifted", 1, 0.5, 1, func(z float64) float64 { return fastTanh(z - 0.5) }},
		{"lecun", lecunSlope, 0, lecunScale, func(z float64) float64 { return lecunScale * fastTanh(lecunSlope*z) }},
	} {
		tanhSlice(xs, out, c.in, c.shift, c.outSc)
		for i, x := range xs {
			if want := float32(c.fn(float64(x))); math.Float32bits(want) != math.Float32bits(out[i]) && !(want != want && out[i] != out[i]) {
				t.Fatalf("%s: tanhSlice(%g) = %g, scalar %g", c.name, x, out[i], want)
			}
		}
	}
	sigmoidSlice(xs, out)
	for i, x := range xs {
		if want := float32(fastSigmoid(float64(x))); math.Float32bits(want) != math.Float32bits(out[i]) && !(want != want && out[i] != out[i]) {
			t.Fatalf("sigmoidSlice(%g) = %g, scalar %g", x, out[i], want)
		}
	}
	for _, name := range []string{"relu", "tanh", "lecun_tanh", "softsign", "sigmoid", "hardtanh", "shifted_tanh:0.5",
		"leaky_relu", "leaky_relu:0.3", "elu", "elu:0.5", "silu", "gelu"} {
		act := MustActivation(name)
		activationForward(act, xs, out)
		for i, x := range xs {
			want := float32(act.eval(float64(x)))
			if d := ulpDiff32(want, out[i]); d > 1 {
				t.Fatalf("%s(%g) = %g, want %g", name, x, out[i], want)
			}
		}
		xs64 := make([]float64, len(xs))
		for i, x := range xs {
			xs64[i] = float64(x)
		}
		out64 := make([]float64, len(xs))
		activationForward(act, xs64, out64)
		for i, x := range xs64 {
			if want := act.eval(x); want != out64[i] && !(want != want && out64[i] != out64[i]) {
				t.Fatalf("float64 %s(%g) = %g, want %g", name, x, out64[i], want)
			}
		}
	}
}

// TestEltAcceleratorAgrees checks, in a build with a float32 elementwise accelerator (-tags dnnl), that the
// activation op's forward and backward passes on tensors large enough to use it give the Go kernels' bits (the C
// loops repeat their arithmetic), and that repeated runs are bit-identical.
func TestEltAcceleratorAgrees(t *testing.T) {
	if eltAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	accel := eltAccel32
	defer func() { eltAccel32 = accel }()
	x := benchTensor(3, 8, 16, 32, 32)
	xs := x.Float32s()
	xs[0], xs[1], xs[2], xs[3] = 0, 40, -40, 1e-7
	xs[4], xs[5], xs[6], xs[7] = -800, -0.03, -1e-30, -0.05
	// The tanh kernels' branch points (|z| = 0.05 and 9.1, also for LeCun's 2/3 and the shift 0.5), ±Inf, NaN, −0.
	for i, v := range []float64{0.05, 0.0499999, 9.1, 9.0999, 13.65, 0.075, 0.55, 9.6, math.Inf(1), math.Inf(-1),
		math.NaN(), math.Copysign(0, -1), 0.45, -9.1} {
		xs[8+i] = float32(v)
	}
	for _, name := range []string{"tanh", "sigmoid", "relu", "lecun_tanh", "shifted_tanh:0.5", "leaky_relu", "elu:0.5",
		"silu", "gelu"} {
		op := &activationOp{opBase: newOpBase("act"), act: MustActivation(name)}
		var outs [3][]float32
		for i, a := range []eltAccelerator{nil, accel, accel} {
			eltAccel32 = a
			y, err := op.Do(x)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = y.(*tensor.Dense).Float32s()
		}
		var worst float64
		for i := range xs {
			want, got := float64(outs[0][i]), float64(outs[1][i])
			if e := math.Abs(got-want) / math.Max(math.Abs(want), 1e-30); e > worst {
				worst = e
			}
			if math.Float32bits(outs[1][i]) != math.Float32bits(outs[2][i]) {
				t.Fatalf("%s: element %d differs between runs", name, i)
			}
			if strings.Contains(name, "tanh") && math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Fatalf("%s(%g) = %g, the Go kernel's %g", name, xs[i], outs[1][i], outs[0][i])
			}
		}
		const tol = 0.0
		t.Logf("%s: worst relative difference from the Go kernel %.3g", name, worst)
		if worst > tol {
			t.Errorf("%s: worst relative difference %.3g > %g", name, worst, tol)
		}
		// Backward from the same (x or y, dy), compared as max abs difference over max abs value.
		bwd := &activationGradOp{opBase: newOpBase("act_grad"), act: op.act}
		y := tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(outs[0]))
		if op.act.gradFromInput() {
			y = x
		}
		dy := benchTensor(4, x.Shape()...)
		var grads [3][]float32
		for i, a := range []eltAccelerator{nil, accel, accel} {
			eltAccel32 = a
			dx, err := bwd.Do(y, dy)
			if err != nil {
				t.Fatal(err)
			}
			grads[i] = dx.(*tensor.Dense).Float32s()
		}
		var diff, scale float64
		for i := range grads[0] {
			g0, g1 := float64(grads[0][i]), float64(grads[1][i])
			if math.IsNaN(g0) || math.IsInf(g0, 0) || math.IsNaN(g1) || math.IsInf(g1, 0) {
				// Non-finite inputs (the NaN and ±Inf above) give non-finite gradients: the same ones.
				if math.IsNaN(g0) != math.IsNaN(g1) || (!math.IsNaN(g0) && g0 != g1) {
					t.Fatalf("%s backward: element %d is %g, the Go kernel's %g", name, i, g1, g0)
				}
				continue
			}
			diff = math.Max(diff, math.Abs(g1-g0))
			scale = math.Max(scale, math.Abs(g0))
			if math.Float32bits(grads[1][i]) != math.Float32bits(grads[2][i]) {
				t.Fatalf("%s backward: element %d differs between runs", name, i)
			}
		}
		t.Logf("%s backward: relative difference from the Go kernel %.3g", name, diff/scale)
		if !(diff/scale <= tol) {
			t.Errorf("%s backward: relative difference %.3g > %g", name, diff/scale, tol)
		}
	}
}

// TestReluKernelsMatchBranchyLoops checks the branch-free float32 ReLU kernels against the plain comparisons on
// random values and on ±0, ±Inf, the smallest subnormals, the largest finite values and NaNs of either sign.
func TestReluKernelsMatchBranchyLoops(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		float32(math.NaN()), -float32(math.NaN()), math.Float32frombits(0x7F800001), math.Float32frombits(0xFFFFFFFF)}
	for range 10000 {
		x = append(x, float32(rng.NormFloat64()*3))
	}
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = float32(rng.NormFloat64()) + 0.5 // never exactly 0: a −0·0 product is not what is compared
	}
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	reluSlice32(x, y)
	reluGradSlice32(x, dy, dx)
	for i, v := range x {
		wantY, wantDx := float32(0), float32(0)
		if v > 0 {
			wantY, wantDx = v, dy[i]
		}
		if math.Float32bits(y[i]) != math.Float32bits(wantY) {
			t.Fatalf("relu(%v) = %v, want %v", v, y[i], wantY)
		}
		if math.Float32bits(dx[i]) != math.Float32bits(wantDx) {
			t.Fatalf("relu'(%v)·%v = %v, want %v", v, dy[i], dx[i], wantDx)
		}
	}
}
