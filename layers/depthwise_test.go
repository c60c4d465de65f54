package layers

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dwCase is one depthwise geometry: input (n, c, h, w), k×k filter, stride, padding.
type dwCase struct{ n, c, h, w, k, stride, pad int }

func (tc dwCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_k%d_s%d_p%d", tc.n, tc.c, tc.h, tc.w, tc.k, tc.stride, tc.pad)
}

func (tc dwCase) out() (int, int) {
	return (tc.h+2*tc.pad-tc.k)/tc.stride + 1, (tc.w+2*tc.pad-tc.k)/tc.stride + 1
}

// dwCases covers the MobileNet cases (k = 3, stride 1 and 2, pad 1), 1×1 and 5×5 kernels, non-square and odd sizes,
// strides that leave input rows unused, padding larger than k − 1, and N = 1 and N > 1.
var dwCases = []dwCase{
	{2, 3, 6, 6, 3, 1, 1},
	{2, 3, 7, 7, 3, 2, 1},
	{1, 4, 8, 8, 3, 2, 1},
	{3, 2, 5, 4, 1, 1, 0},
	{2, 2, 4, 5, 1, 2, 1},
	{2, 3, 7, 9, 5, 1, 2},
	{1, 2, 9, 7, 5, 2, 2},
	{2, 3, 5, 8, 3, 1, 0},
	{1, 2, 6, 5, 3, 3, 2},
	{2, 2, 5, 7, 2, 1, 1},
	{1, 1, 3, 3, 3, 1, 0},
	{3, 5, 11, 13, 3, 2, 1},
	{2, 2, 4, 5, 1, 1, 1}, // stride 1 with pad > k − 1: the input gradient crops instead of padding
	{1, 2, 5, 6, 3, 1, 3},
	{2, 2, 6, 6, 3, 2, 0},
}

func dwRandom(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// dwNaive is the reference: the definition of the depthwise convolution and of its two gradients, one element at a
// time, in float64.
func dwNaive(tc dwCase, x, w, dy []float64) (y, dx, dw []float64) {
	ho, wo := tc.out()
	k := tc.k
	y = make([]float64, tc.n*tc.c*ho*wo)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < tc.n; n++ {
		for c := 0; c < tc.c; c++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					o := ((n*tc.c+c)*ho+oy)*wo + ox
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*tc.stride+ky-tc.pad, ox*tc.stride+kx-tc.pad
							if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
								continue
							}
							i := ((n*tc.c+c)*tc.h+iy)*tc.w + ix
							t := (c*k+ky)*k + kx
							y[o] += w[t] * x[i]
							if dy != nil {
								dx[i] += w[t] * dy[o]
								dw[t] += x[i] * dy[o]
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

func dwDense(dt tensor.Dtype, v []float64, shape ...int) *tensor.Dense {
	t := newLike(dt, shape...)
	for i, x := range v {
		if dt == tensor.Float64 {
			t.Float64s()[i] = x
		} else {
			t.Float32s()[i] = float32(x)
		}
	}
	return t
}

func dwFloats(t *tensor.Dense) []float64 {
	if t.Dtype() == tensor.Float64 {
		return t.Float64s()
	}
	out := make([]float64, t.Shape().TotalSize())
	for i, x := range t.Float32s() {
		out[i] = float64(x)
	}
	return out
}

// dwRound rounds v to float32 when dt is float32, so that the reference sees exactly the op's inputs.
func dwRound(dt tensor.Dtype, v []float64) []float64 {
	if dt == tensor.Float32 {
		for i := range v {
			v[i] = float64(float32(v[i]))
		}
	}
	return v
}

func dwCompare(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol*(1+math.Abs(want[i])) || math.IsNaN(got[i]) {
			t.Fatalf("%s[%d] = %.10g, want %.10g (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// TestDepthwiseForwardReference runs the forward op in a graph and its backward ops directly, in both dtypes, and
// compares them with dwNaive.
func TestDepthwiseForwardReference(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 2e-5
		}
		for i, tc := range dwCases {
			t.Run(fmt.Sprintf("%v/%v", dt, tc), func(t *testing.T) {
				rng := rand.New(rand.NewSource(int64(i + 1)))
				ho, wo := tc.out()
				xv := dwRound(dt, dwRandom(rng, tc.n*tc.c*tc.h*tc.w))
				wv := dwRound(dt, dwRandom(rng, tc.c*tc.k*tc.k))
				dyv := dwRound(dt, dwRandom(rng, tc.n*tc.c*ho*wo))
				wantY, wantDx, wantDw := dwNaive(tc, xv, wv, dyv)

				g := G.NewGraph()
				x := G.NewTensor(g, dt, 4, G.WithShape(tc.n, tc.c, tc.h, tc.w), G.WithName("x"),
					G.WithValue(dwDense(dt, xv, tc.n, tc.c, tc.h, tc.w)))
				w := G.NewTensor(g, dt, 4, G.WithShape(tc.c, 1, tc.k, tc.k), G.WithName("w"),
					G.WithValue(dwDense(dt, wv, tc.c, 1, tc.k, tc.k)))
				y, err := DepthwiseConv2d(x, w, tc.stride, tc.pad)
				if err != nil {
					t.Fatal(err)
				}
				if want := (tensor.Shape{tc.n, tc.c, ho, wo}); !y.Shape().Eq(want) {
					t.Fatalf("output shape %v, want %v", y.Shape(), want)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				dwCompare(t, "y", dwFloats(y.Value().(*tensor.Dense)), wantY, tol)

				geo, err := newDWGeom(x, w, tc.stride, tc.pad)
				if err != nil {
					t.Fatal(err)
				}
				dyT := dwDense(dt, dyv, tc.n, tc.c, ho, wo)
				dx, err := (&depthwiseGradInputOp{opBase: newOpBase("gi"), g: geo}).Do(w.Value(), dyT)
				if err != nil {
					t.Fatal(err)
				}
				dwCompare(t, "dx", dwFloats(dx.(*tensor.Dense)), wantDx, tol)
				dw, err := (&depthwiseGradFilterOp{opBase: newOpBase("gf"), g: geo}).Do(x.Value(), dyT)
				if err != nil {
					t.Fatal(err)
				}
				dwCompare(t, "dw", dwFloats(dw.(*tensor.Dense)), wantDw, tol)
			})
		}
	}
}

// TestDepthwiseGrad checks the op's gradients by finite differences through the builder, with and without bias and
// followed by BN and tanh.
func TestDepthwiseGrad(t *testing.T) {
	for _, tc := range []struct {
		shape           []int
		k, stride, pad  int
		bias, bnAndTanh bool
	}{
		{[]int{2, 3, 5, 5}, 3, 1, 1, false, false},
		{[]int{2, 3, 5, 5}, 3, 1, 1, true, false},
		{[]int{2, 2, 7, 6}, 3, 2, 1, false, false},
		{[]int{2, 2, 7, 6}, 3, 2, 1, true, false},
		{[]int{1, 2, 6, 7}, 5, 2, 2, true, false},
		{[]int{2, 3, 4, 5}, 1, 1, 0, false, false},
		{[]int{3, 2, 5, 5}, 3, 1, 1, false, true},
		{[]int{3, 2, 6, 6}, 3, 2, 1, false, true},
	} {
		name := fmt.Sprintf("%v_k%d_s%d_p%d_bias=%v_bn_tanh=%v", tc.shape, tc.k, tc.stride, tc.pad, tc.bias, tc.bnAndTanh)
		t.Run(name, func(t *testing.T) {
			checkFragment(t, true, tc.shape, func(b *Builder, x *G.Node) (*G.Node, error) {
				y, err := b.DepthwiseConv2d(x, "dw", tc.k, tc.stride, tc.pad, tc.bias)
				if err != nil || !tc.bnAndTanh {
					return y, err
				}
				if y, err = b.BatchNorm(y, "bn"); err != nil {
					return nil, err
				}
				return MustActivation("tanh").Apply(y)
			})
		})
	}
}

// dwRunAll runs the forward op and both backward ops once on float32 inputs with the given GOMAXPROCS.
func dwRunAll(t *testing.T, procs int, geo dwGeom, x, w, dy *tensor.Dense) [3][]float32 {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	var out [3][]float32
	for i, run := range []func() (G.Value, error){
		func() (G.Value, error) { return (&depthwiseOp{opBase: newOpBase("f"), g: geo}).Do(x, w) },
		func() (G.Value, error) { return (&depthwiseGradInputOp{opBase: newOpBase("gi"), g: geo}).Do(w, dy) },
		func() (G.Value, error) { return (&depthwiseGradFilterOp{opBase: newOpBase("gf"), g: geo}).Do(x, dy) },
	} {
		v, err := run()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v.(*tensor.Dense).Float32s()
	}
	return out
}

// TestDepthwiseDeterministic checks that the Go kernels' outputs and gradients are bit-identical across runs and
// across worker counts (1 worker, and more workers than cores so that the scheduling varies). The accelerator, if
// any, is switched off: TestDepthwiseAcceleratorAgrees checks its run-to-run determinism.
func TestDepthwiseDeterministic(t *testing.T) {
	defer func(a dwAccelerator) { dwAccel32 = a }(dwAccel32)
	dwAccel32 = nil
	for _, stride := range []int{1, 2} {
		t.Run(fmt.Sprintf("stride%d", stride), func(t *testing.T) {
			tc := dwCase{8, 64, 16, 16, 3, stride, 1}
			ho, wo := tc.out()
			rng := rand.New(rand.NewSource(5))
			x := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*tc.h*tc.w), tc.n, tc.c, tc.h, tc.w)
			w := dwDense(tensor.Float32, dwRandom(rng, tc.c*tc.k*tc.k), tc.c, 1, tc.k, tc.k)
			dy := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*ho*wo), tc.n, tc.c, ho, wo)
			geo := dwGeom{n: tc.n, c: tc.c, h: tc.h, w: tc.w, k: tc.k, stride: tc.stride, pad: tc.pad, ho: ho, wo: wo}
			ref := dwRunAll(t, 1, geo, x, w, dy)
			for run, procs := range []int{4, 4, 2, 8} {
				got := dwRunAll(t, procs, geo, x, w, dy)
				for o, name := range []string{"y", "dx", "dw"} {
					for i := range ref[o] {
						if math.Float32bits(got[o][i]) != math.Float32bits(ref[o][i]) {
							t.Fatalf("run %d (GOMAXPROCS %d): %s[%d] = %v, serial run gave %v", run, procs, name, i, got[o][i], ref[o][i])
						}
					}
				}
			}
		})
	}
}

// TestDepthwiseAcceleratorAgrees checks, in a build with a float32 accelerator (-tags dnnl), that its forward and
// both gradients agree with the Go kernels within 1e-4 relative (max abs difference over max abs value) on random
// inputs, strides 1 and 2, with and without padding, and that repeated runs (at one thread count) are bit-identical:
// backward weights reduces over the batch, and a nondeterministic reduction would break same-seed reproducibility.
func TestDepthwiseAcceleratorAgrees(t *testing.T) {
	if dwAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	cases := append([]dwCase{
		{32, 32, 32, 32, 3, 1, 1},
		{32, 64, 32, 32, 3, 2, 1},
		{16, 128, 8, 8, 3, 1, 1},
		{16, 128, 8, 8, 3, 2, 1},
		{8, 48, 9, 11, 3, 2, 0},
		{8, 20, 7, 7, 5, 1, 2},
	}, dwCases...)
	accel := dwAccel32
	defer func() { dwAccel32 = accel }()
	var worst [3]float64
	for i, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			ho, wo := tc.out()
			rng := rand.New(rand.NewSource(int64(300 + i)))
			x := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*tc.h*tc.w), tc.n, tc.c, tc.h, tc.w)
			w := dwDense(tensor.Float32, dwRandom(rng, tc.c*tc.k*tc.k), tc.c, 1, tc.k, tc.k)
			dy := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*ho*wo), tc.n, tc.c, ho, wo)
			geo := dwGeom{n: tc.n, c: tc.c, h: tc.h, w: tc.w, k: tc.k, stride: tc.stride, pad: tc.pad, ho: ho, wo: wo}
			procs := runtime.GOMAXPROCS(0)
			dwAccel32 = nil
			want := dwRunAll(t, procs, geo, x, w, dy)
			dwAccel32 = accel
			got := dwRunAll(t, procs, geo, x, w, dy)
			for j, name := range []string{"y", "dx", "dw"} {
				e := convRelErr(f64s(got[j]), f64s(want[j]))
				worst[j] = math.Max(worst[j], e)
				if e > 1e-4 || math.IsNaN(e) {
					t.Errorf("%s: max abs diff / max abs value = %.3g > 1e-4", name, e)
				}
			}
			for rep := 0; rep < 3; rep++ {
				if again := dwRunAll(t, procs, geo, x, w, dy); !convSameBits(got, again) {
					t.Fatalf("repeat %d is not bit-identical to the first run", rep)
				}
			}
		})
	}
	t.Logf("worst relative difference from the Go kernels: y %.2g, dx %.2g, dw %.2g", worst[0], worst[1], worst[2])
}

// TestDepthwiseShapeErrors checks that bad shapes are reported when the graph is built.
func TestDepthwiseShapeErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		xs, ws      []int
		stride, pad int
		wantInError string
		viaBuilder  bool
		builderK    int
	}{
		{"filter channels", []int{2, 3, 8, 8}, []int{4, 1, 3, 3}, 1, 1, "filter must be (C, 1, k, k)", false, 0},
		{"filter not depthwise", []int{2, 3, 8, 8}, []int{3, 2, 3, 3}, 1, 1, "filter must be (C, 1, k, k)", false, 0},
		{"filter not square", []int{2, 3, 8, 8}, []int{3, 1, 3, 2}, 1, 1, "filter must be (C, 1, k, k)", false, 0},
		{"filter 3-D", []int{2, 3, 8, 8}, []int{3, 3, 3}, 1, 1, "filter must be (C, 1, k, k)", false, 0},
		{"input 3-D", []int{3, 8, 8}, []int{3, 1, 3, 3}, 1, 1, "input must be (N, C, H, W)", false, 0},
		{"kernel too large", []int{2, 3, 4, 8}, []int{3, 1, 7, 7}, 1, 1, "does not fit", false, 0},
		{"kernel too large, no pad", []int{1, 2, 2, 2}, []int{2, 1, 3, 3}, 1, 0, "does not fit", false, 0},
		{"zero stride", []int{2, 3, 8, 8}, []int{3, 1, 3, 3}, 0, 1, "stride", false, 0},
		{"builder kernel too large", []int{2, 3, 4, 4}, nil, 1, 0, "do not fit", true, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			var err error
			if tc.viaBuilder {
				b := NewBuilder(newTestStore(t), true)
				x := b.Input("x", tc.xs...)
				_, err = b.DepthwiseConv2d(x, "dw", tc.builderK, tc.stride, tc.pad, false)
			} else {
				g := G.NewGraph()
				x := G.NewTensor(g, tensor.Float64, len(tc.xs), G.WithShape(tc.xs...), G.WithName("x"))
				w := G.NewTensor(g, tensor.Float64, len(tc.ws), G.WithShape(tc.ws...), G.WithName("w"))
				_, err = DepthwiseConv2d(x, w, tc.stride, tc.pad)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantInError) {
				t.Fatalf("error %q does not mention %q", err, tc.wantInError)
			}
		})
	}
	t.Run("dtype mismatch", func(t *testing.T) {
		g := G.NewGraph()
		x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(1, 2, 4, 4), G.WithName("x"))
		w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(2, 1, 3, 3), G.WithName("w"))
		if _, err := DepthwiseConv2d(x, w, 1, 1); err == nil {
			t.Fatal("no error")
		}
	})
}

// BenchmarkDepthwise times the forward op and both backward ops on a MobileNet-sized float32 layer: N = 128,
// C = 128, 16×16, k = 3, stride 1, pad 1.
func BenchmarkDepthwise(b *testing.B) {
	accel := dwAccel32
	defer func() { dwAccel32 = accel }()
	for _, tc := range []dwCase{{128, 128, 16, 16, 3, 1, 1}, {128, 64, 32, 32, 3, 1, 1}, {128, 128, 32, 32, 3, 2, 1}} {
		for _, kernels := range []string{"go", "accel"} {
			if kernels == "accel" && accel == nil {
				continue
			}
			b.Run(tc.String()+"/"+kernels, func(b *testing.B) {
				dwAccel32 = nil
				if kernels == "accel" {
					dwAccel32 = accel
				}
				benchDepthwise(b, tc)
			})
		}
	}
}

func benchDepthwise(b *testing.B, tc dwCase) {
	ho, wo := tc.out()
	rng := rand.New(rand.NewSource(1))
	x := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*tc.h*tc.w), tc.n, tc.c, tc.h, tc.w)
	w := dwDense(tensor.Float32, dwRandom(rng, tc.c*tc.k*tc.k), tc.c, 1, tc.k, tc.k)
	dy := dwDense(tensor.Float32, dwRandom(rng, tc.n*tc.c*ho*wo), tc.n, tc.c, ho, wo)
	geo := dwGeom{n: tc.n, c: tc.c, h: tc.h, w: tc.w, k: tc.k, stride: tc.stride, pad: tc.pad, ho: ho, wo: wo}
	fwd := &depthwiseOp{opBase: newOpBase("f"), g: geo}
	gi := &depthwiseGradInputOp{opBase: newOpBase("gi"), g: geo}
	gf := &depthwiseGradFilterOp{opBase: newOpBase("gf"), g: geo}
	b.ResetTimer()
	for b.Loop() {
		if _, err := fwd.Do(x, w); err != nil {
			b.Fatal(err)
		}
		if _, err := gi.Do(w, dy); err != nil {
			b.Fatal(err)
		}
		if _, err := gf.Do(x, dy); err != nil {
			b.Fatal(err)
		}
	}
	macs := 3 * float64(tc.n*tc.c*ho*wo*tc.k*tc.k)
	b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}
