package layers

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/internal/gradcheck"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convCase is one convolution geometry: input (n, c, h, w), o filters of k×k, stride, padding.
type convCase struct{ n, c, h, w, o, k, stride, pad int }

func (tc convCase) String() string {
	return fmt.Sprintf("x%dx%dx%dx%d_o%d_k%d_s%d_p%d", tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.stride, tc.pad)
}

func (tc convCase) geom(t testing.TB) convGeom {
	t.Helper()
	g, err := makeConvGeom(tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.stride, tc.pad)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// convCases covers 3×3 with padding 0, 1 and 2, strides 1, 2 and 3, 1×1 pointwise and strided (the ResNet
// projection shortcut), 5×5 and even kernels, padding larger than k − 1 (the stride-1 input gradient then crops),
// non-square inputs, strides that leave input rows unused, N = 1 and N > 1, and one input channel.
var convCases = []convCase{
	{2, 3, 6, 6, 4, 3, 1, 1},
	{2, 3, 7, 7, 5, 3, 2, 1},
	{1, 4, 8, 8, 3, 3, 2, 1},
	{3, 2, 5, 4, 3, 1, 1, 0},
	{2, 4, 6, 5, 6, 1, 2, 0},
	{2, 3, 7, 9, 2, 5, 1, 2},
	{1, 2, 9, 7, 3, 5, 2, 2},
	{2, 3, 5, 8, 4, 3, 1, 0},
	{1, 2, 6, 5, 2, 3, 3, 2},
	{2, 2, 5, 7, 3, 2, 1, 1},
	{1, 1, 3, 3, 1, 3, 1, 0},
	{3, 5, 11, 13, 4, 3, 2, 1},
	{2, 2, 4, 5, 3, 1, 1, 1},
	{1, 2, 5, 6, 2, 3, 1, 3},
	{2, 2, 6, 6, 3, 3, 2, 0},
	{1, 3, 4, 4, 2, 3, 1, 2},
	{4, 1, 8, 8, 2, 3, 1, 1},
}

// convNaive is the reference: the definition of the convolution and of its two gradients, one term at a time, in
// float64.
func convNaive(tc convCase, x, w, dy []float64) (y, dx, dw []float64) {
	ho, wo := (tc.h+2*tc.pad-tc.k)/tc.stride+1, (tc.w+2*tc.pad-tc.k)/tc.stride+1
	k := tc.k
	y = make([]float64, tc.n*tc.o*ho*wo)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < tc.n; n++ {
		for o := 0; o < tc.o; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					oi := ((n*tc.o+o)*ho+oy)*wo + ox
					for c := 0; c < tc.c; c++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := oy*tc.stride+ky-tc.pad, ox*tc.stride+kx-tc.pad
								if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
									continue
								}
								ii := ((n*tc.c+c)*tc.h+iy)*tc.w + ix
								wi := ((o*tc.c+c)*k+ky)*k + kx
								y[oi] += w[wi] * x[ii]
								if dy != nil {
									dx[ii] += w[wi] * dy[oi]
									dw[wi] += x[ii] * dy[oi]
								}
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

// convRelErr is max |got − want| / max |want|: the accuracy measure for float32 kernels, whose rounding errors
// scale with the magnitude of the sums rather than of each element.
func convRelErr(got, want []float64) float64 {
	var diff, scale float64
	for i := range want {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(got[i]) {
			d = math.Inf(1)
		}
		diff = math.Max(diff, d)
		scale = math.Max(scale, math.Abs(want[i]))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func convCheckClose(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if e := convRelErr(got, want); e > tol || math.IsNaN(e) {
		t.Fatalf("%s: max abs diff / max abs value = %.3g > %.3g", what, e, tol)
	}
}

// convRandomCase draws x, w and dy for tc, rounded to dt.
func convRandomCase(tc convCase, dt tensor.Dtype, seed int64) (x, w, dy []float64) {
	rng := rand.New(rand.NewSource(seed))
	ho, wo := (tc.h+2*tc.pad-tc.k)/tc.stride+1, (tc.w+2*tc.pad-tc.k)/tc.stride+1
	x = dwRound(dt, dwRandom(rng, tc.n*tc.c*tc.h*tc.w))
	w = dwRound(dt, dwRandom(rng, tc.o*tc.c*tc.k*tc.k))
	dy = dwRound(dt, dwRandom(rng, tc.n*tc.o*ho*wo))
	return x, w, dy
}

// TestConv2dOpReference runs the forward op in a graph and its backward ops directly, in both dtypes, and compares
// them with convNaive. (In a -tags dnnl build the float32 ops run oneDNN.)
func TestConv2dOpReference(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		tol := 1e-13
		if dt == tensor.Float32 {
			tol = 1e-5
		}
		for i, tc := range convCases {
			t.Run(fmt.Sprintf("%v/%v", dt, tc), func(t *testing.T) {
				xv, wv, dyv := convRandomCase(tc, dt, int64(i+1))
				wantY, wantDx, wantDw := convNaive(tc, xv, wv, dyv)
				geo := tc.geom(t)

				g := G.NewGraph()
				x := G.NewTensor(g, dt, 4, G.WithShape(tc.n, tc.c, tc.h, tc.w), G.WithName("x"),
					G.WithValue(dwDense(dt, xv, tc.n, tc.c, tc.h, tc.w)))
				w := G.NewTensor(g, dt, 4, G.WithShape(tc.o, tc.c, tc.k, tc.k), G.WithName("w"),
					G.WithValue(dwDense(dt, wv, tc.o, tc.c, tc.k, tc.k)))
				y, err := Conv2dOp(x, w, tc.stride, tc.pad)
				if err != nil {
					t.Fatal(err)
				}
				if !y.Shape().Eq(geo.outShape()) {
					t.Fatalf("output shape %v, want %v", y.Shape(), geo.outShape())
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				convCheckClose(t, "y", dwFloats(y.Value().(*tensor.Dense)), wantY, tol)

				dyT := dwDense(dt, dyv, geo.outShape()...)
				dx, err := (&convGradInputOp{opBase: newOpBase("gi"), g: geo}).Do(w.Value(), dyT)
				if err != nil {
					t.Fatal(err)
				}
				convCheckClose(t, "dx", dwFloats(dx.(*tensor.Dense)), wantDx, tol)
				dw, err := (&convGradFilterOp{opBase: newOpBase("gf"), g: geo}).Do(x.Value(), dyT)
				if err != nil {
					t.Fatal(err)
				}
				convCheckClose(t, "dw", dwFloats(dw.(*tensor.Dense)), wantDw, tol)
			})
		}
	}
}

// TestConv2dOpGoKernelsFloat32 checks the float32 Go kernels against convNaive directly (in a -tags dnnl build
// the ops above run oneDNN for float32, so this keeps the Go float32 path tested there too), including layers
// large enough to run in parallel, to group images in the filter gradient and to use several partial gradients.
func TestConv2dOpGoKernelsFloat32(t *testing.T) {
	cases := append([]convCase{{9, 6, 5, 5, 7, 3, 1, 1}, {17, 4, 3, 3, 5, 1, 1, 0}, {12, 8, 10, 9, 8, 3, 2, 1}}, convCases...)
	for i, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			xv, wv, dyv := convRandomCase(tc, tensor.Float32, int64(100+i))
			wantY, wantDx, wantDw := convNaive(tc, xv, wv, dyv)
			got := convRunGo(tc.geom(t), f32s(xv), f32s(wv), f32s(dyv))
			for j, name := range []string{"y", "dx", "dw"} {
				convCheckClose(t, name, f64s(got[j]), [][]float64{wantY, wantDx, wantDw}[j], 1e-5)
			}
		})
	}
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// convRunGo runs the three Go kernels.
func convRunGo[T float](g convGeom, x, w, dy []T) [3][]T {
	y, dx, dw := make([]T, g.n*g.outSz), make([]T, g.n*g.inSize), make([]T, g.o*g.ckk)
	convForward(g, x, w, y)
	convGradInput(g, w, dy, dx)
	convGradFilter(g, x, dy, dw)
	return [3][]T{y, dx, dw}
}

// TestConv2dOpMatchesGorgonia checks that the op computes what Gorgonia's Conv2d computes, forward and backward
// (through G.Grad), so that it can replace it in Builder.Conv2d.
func TestConv2dOpMatchesGorgonia(t *testing.T) {
	for i, tc := range []convCase{{2, 3, 6, 6, 4, 3, 1, 1}, {2, 3, 7, 7, 5, 3, 2, 1}, {2, 4, 6, 5, 6, 1, 2, 0}, {1, 2, 9, 7, 3, 5, 2, 2}} {
		t.Run(tc.String(), func(t *testing.T) {
			xv, wv, _ := convRandomCase(tc, tensor.Float64, int64(i+40))
			run := func(ours bool) [3][]float64 {
				g := G.NewGraph()
				x := G.NewTensor(g, tensor.Float64, 4, G.WithShape(tc.n, tc.c, tc.h, tc.w), G.WithName("x"),
					G.WithValue(dwDense(tensor.Float64, xv, tc.n, tc.c, tc.h, tc.w)))
				w := G.NewTensor(g, tensor.Float64, 4, G.WithShape(tc.o, tc.c, tc.k, tc.k), G.WithName("w"),
					G.WithValue(dwDense(tensor.Float64, wv, tc.o, tc.c, tc.k, tc.k)))
				var y *G.Node
				var err error
				if ours {
					y, err = Conv2dOp(x, w, tc.stride, tc.pad)
				} else {
					y, err = G.Conv2d(x, w, tensor.Shape{tc.k, tc.k}, []int{tc.pad, tc.pad}, []int{tc.stride, tc.stride}, []int{1, 1})
				}
				if err != nil {
					t.Fatal(err)
				}
				sq, err := G.Square(y)
				if err != nil {
					t.Fatal(err)
				}
				cost, err := G.Sum(sq)
				if err != nil {
					t.Fatal(err)
				}
				grads, err := G.Grad(cost, x, w)
				if err != nil {
					t.Fatal(err)
				}
				var yv, dxv, dwv G.Value
				G.Read(y, &yv)
				G.Read(grads[0], &dxv)
				G.Read(grads[1], &dwv)
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				var out [3][]float64
				for j, v := range []G.Value{yv, dxv, dwv} {
					out[j] = append([]float64(nil), v.(*tensor.Dense).Float64s()...)
				}
				return out
			}
			ours, theirs := run(true), run(false)
			for j, name := range []string{"y", "dx", "dw"} {
				convCheckClose(t, name, ours[j], theirs[j], 1e-12)
			}
		})
	}
}

// TestConv2dOpGrad checks the op's gradients by finite differences (float64: the Go kernels) through a fragment
// with a filter parameter, alone and followed by BN and tanh.
func TestConv2dOpGrad(t *testing.T) {
	for _, tc := range []struct {
		shape           []int
		out, k          int
		stride, pad     int
		bnAndTanh, bias bool
	}{
		{[]int{2, 3, 5, 5}, 4, 3, 1, 1, false, false},
		{[]int{2, 2, 7, 6}, 3, 3, 2, 1, false, true},
		{[]int{1, 2, 6, 7}, 2, 5, 2, 2, false, false},
		{[]int{2, 3, 4, 5}, 4, 1, 1, 0, false, false},
		{[]int{2, 4, 5, 5}, 3, 1, 2, 0, false, false},
		{[]int{2, 2, 4, 5}, 3, 3, 1, 0, false, false},
		{[]int{1, 2, 4, 4}, 2, 3, 1, 3, false, false},
		{[]int{3, 2, 5, 5}, 3, 3, 1, 1, true, false},
		{[]int{3, 2, 6, 6}, 4, 3, 2, 1, true, true},
	} {
		name := fmt.Sprintf("%v_o%d_k%d_s%d_p%d_bn_tanh=%v", tc.shape, tc.out, tc.k, tc.stride, tc.pad, tc.bnAndTanh)
		t.Run(name, func(t *testing.T) {
			checkFragment(t, true, tc.shape, func(b *Builder, x *G.Node) (*G.Node, error) {
				w, err := b.ParamNode("c.weight", WeightParam, []int{tc.out, tc.shape[1], tc.k, tc.k}, KaimingNormalFanOut)
				if err != nil {
					return nil, err
				}
				y, err := Conv2dOp(x, w, tc.stride, tc.pad)
				if err != nil {
					return nil, err
				}
				if tc.bias {
					bn, err := b.ParamNode("c.bias", BiasParam, []int{tc.out}, Constant(0))
					if err != nil {
						return nil, err
					}
					if y, err = AddChannelBias(y, bn); err != nil {
						return nil, err
					}
				}
				if !tc.bnAndTanh {
					return y, nil
				}
				if y, err = b.BatchNorm(y, "bn"); err != nil {
					return nil, err
				}
				return MustActivation("tanh").Apply(y)
			})
		})
	}
}

// TestConv2dOpNoInputGrad checks the variant without an input gradient: the filter gradient is right (finite
// differences), the compiled program has no input-gradient op, and asking for the input's gradient fails.
func TestConv2dOpNoInputGrad(t *testing.T) {
	b := NewBuilder(newTestStore(t), true)
	x := gradcheck.RandomInput(b.Graph, "x", 1, 3, 2, 3, 6, 5)
	w, err := b.ParamNode("c.weight", WeightParam, []int{4, 3, 3, 3}, KaimingNormalFanOut)
	if err != nil {
		t.Fatal(err)
	}
	y, err := Conv2dOpNoInputGrad(x, w, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gradcheck.Weighted(y, 11)
	if err != nil {
		t.Fatal(err)
	}
	if err := gradcheck.Check(b.Graph, cost, []*G.Node{w}, gradcheck.Defaults()); err != nil {
		t.Fatal(err)
	}
	prog, _, err := G.Compile(b.Graph)
	if err != nil {
		t.Fatal(err)
	}
	if p := fmt.Sprint(prog); strings.Contains(p, "conv2d_grad_input") || !strings.Contains(p, "conv2d_grad_filter") {
		t.Fatalf("compiled program:\n%s", p)
	}
	g2 := G.NewGraph()
	x2 := G.NewTensor(g2, tensor.Float64, 4, G.WithShape(1, 2, 4, 4), G.WithName("x"))
	w2 := G.NewTensor(g2, tensor.Float64, 4, G.WithShape(3, 2, 3, 3), G.WithName("w"))
	y2, err := Conv2dOpNoInputGrad(x2, w2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := G.Sum(y2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(c2, x2); err == nil {
		t.Fatal("no error differentiating with respect to the input")
	}
}

// convDeterminismCases are large enough that every kernel runs in parallel; the last two group images in the
// filter gradient (few output pixels) and the first uses eight partial filter gradients.
var convDeterminismCases = []convCase{
	{16, 16, 12, 12, 24, 3, 1, 1},
	{12, 16, 13, 11, 16, 3, 2, 1},
	{16, 24, 8, 8, 32, 1, 1, 0},
	{16, 16, 9, 9, 16, 1, 2, 0},
	{40, 32, 4, 4, 24, 3, 1, 1},
	{21, 48, 3, 3, 32, 3, 1, 0},
	{8, 16, 16, 16, 24, 1, 1, 0},
}

// convDeterminism runs the Go kernels with GOMAXPROCS 1, then repeatedly with 2 and 4 (more workers than cores, so
// the scheduling varies), and requires bit-identical results.
func convDeterminism[T float](t *testing.T, tc convCase, bits func(T) uint64) {
	g := tc.geom(t)
	xv, wv, dyv := convRandomCase(tc, tensor.Float64, 9)
	conv := func(v []float64) []T {
		out := make([]T, len(v))
		for i, x := range v {
			out[i] = T(x)
		}
		return out
	}
	x, w, dy := conv(xv), conv(wv), conv(dyv)
	run := func(procs int) [3][]T {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		return convRunGo(g, x, w, dy)
	}
	ref := run(1)
	for r, procs := range []int{2, 4, 2, 4, 3} {
		got := run(procs)
		for o, name := range []string{"y", "dx", "dw"} {
			for i := range ref[o] {
				if bits(got[o][i]) != bits(ref[o][i]) {
					t.Fatalf("run %d (GOMAXPROCS %d): %s[%d] = %v, the GOMAXPROCS=1 run gave %v", r, procs, name, i, got[o][i], ref[o][i])
				}
			}
		}
	}
}

// TestConv2dOpDeterministic checks that the Go kernels give bit-identical outputs and gradients across runs and
// across GOMAXPROCS 1, 2, 3 and 4, in both dtypes.
func TestConv2dOpDeterministic(t *testing.T) {
	for _, tc := range convDeterminismCases {
		t.Run("float32/"+tc.String(), func(t *testing.T) {
			convDeterminism(t, tc, func(v float32) uint64 { return uint64(math.Float32bits(v)) })
		})
		t.Run("float64/"+tc.String(), func(t *testing.T) {
			convDeterminism(t, tc, math.Float64bits)
		})
	}
	t.Run("plan", func(t *testing.T) {
		for _, tc := range convDeterminismCases {
			size, groups, chunks, parts := convFilterPlan(tc.geom(t))
			t.Logf("%v: filter gradient in %d groups of %d images, %d partials, %d channel parts", tc, groups, size, chunks, parts)
		}
	})
}

// TestConv2dOpAlignmentIndependent checks that the Go kernels give the same bits whatever the alignment of their
// inputs (gonum's float32 dot product peels elements to align one operand; the pointwise filter gradient reads the
// input in place only when that does not change the result).
func TestConv2dOpAlignmentIndependent(t *testing.T) {
	for _, tc := range []convCase{{4, 6, 16, 17, 5, 1, 1, 0}, {3, 5, 9, 9, 4, 3, 1, 1}, {3, 5, 9, 9, 4, 3, 2, 1}} {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom(t)
			xv, wv, dyv := convRandomCase(tc, tensor.Float32, 77)
			var ref [3][]float32
			for shift := 0; shift < 4; shift++ {
				shifted := func(v []float64) []float32 { return f32s(append(make([]float64, shift), v...))[shift:] }
				got := convRunGo(g, shifted(xv), shifted(wv), shifted(dyv))
				if shift == 0 {
					ref = got
					continue
				}
				for o, name := range []string{"y", "dx", "dw"} {
					for i := range ref[o] {
						if math.Float32bits(got[o][i]) != math.Float32bits(ref[o][i]) {
							t.Fatalf("inputs shifted by %d floats: %s[%d] = %v, aligned inputs gave %v", shift, name, i, got[o][i], ref[o][i])
						}
					}
				}
			}
		})
	}
}

// TestGonumGemmDeterministic checks the property the kernels rely on: gonum's GEMM gives bit-identical results run
// after run and whatever GOMAXPROCS is, both for the serial tiles gemmNT calls and for a GEMM large enough that
// gonum splits it over goroutines itself; and gemmNT agrees with a float64 reference.
func TestGonumGemmDeterministic(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	const m, n, k = 200, 300, 500
	a, b := f32s(dwRandom(rng, m*k)), f32s(dwRandom(rng, n*k))
	for _, mode := range []string{"gemmNT", "gonum-parallel-NT", "gonum-parallel-NN"} {
		t.Run(mode, func(t *testing.T) {
			run := func(procs int) []float32 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				c := make([]float32, m*n)
				switch mode {
				case "gemmNT":
					gemmNT(m, n, k, a, k, b, k, 0, c, n)
				case "gonum-parallel-NT":
					blasImpl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, b, k, 0, c, n)
				default: // b read as a k×n matrix
					blasImpl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b[:k*n], n, 0, c, n)
				}
				return c
			}
			ref := run(1)
			for r, procs := range []int{2, 4, 2, 8} {
				got := run(procs)
				for i := range ref {
					if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("run %d (GOMAXPROCS %d): c[%d] = %v, first run %v", r, procs, i, got[i], ref[i])
					}
				}
			}
			if mode == "gemmNT" {
				want := make([]float64, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for l := 0; l < k; l++ {
							s += float64(a[i*k+l]) * float64(b[j*k+l])
						}
						want[i*n+j] = s
					}
				}
				convCheckClose(t, "c", f64s(ref), want, 1e-6)
			}
		})
	}
}

// TestConv2dOpAcceleratorAgrees compares the float32 accelerator (oneDNN in a -tags dnnl build) with the Go kernels
// on random data: max |difference| / max |Go value| must stay below 1e-4 for y, dx and dw. It also runs each op
// again, and again with GOMAXPROCS 1 (oneDNN's thread count follows it unless OMP_NUM_THREADS is set), and reports
// how often the accelerator repeats itself bit for bit. Skipped in the default build.
func TestConv2dOpAcceleratorAgrees(t *testing.T) {
	if convAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	t.Logf("accelerator: %s", ConvBackend())
	cases := append([]convCase{
		{32, 64, 16, 16, 64, 3, 1, 1},
		{16, 16, 32, 32, 16, 3, 1, 1},
		{16, 16, 32, 32, 32, 3, 2, 1},
		{16, 16, 32, 32, 32, 1, 2, 0},
		{8, 3, 28, 28, 16, 3, 1, 1},
		{8, 1, 28, 28, 8, 5, 1, 2},
		{4, 32, 7, 7, 48, 1, 1, 0},
		{5, 20, 9, 11, 24, 3, 2, 0},
		{16, 128, 4, 4, 256, 3, 1, 1},
	}, convCases...)
	var worst [3]float64
	var repeats, sameAcrossThreads int
	for i, tc := range cases {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom(t)
			xv, wv, dyv := convRandomCase(tc, tensor.Float32, int64(200+i))
			x, w, dy := f32s(xv), f32s(wv), f32s(dyv)
			want := convRunGo(g, x, w, dy)
			runAccel := func(procs int) [3][]float32 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				y, dx, dw := make([]float32, g.n*g.outSz), make([]float32, g.n*g.inSize), make([]float32, g.o*g.ckk)
				if err := convAccel32.forward(g, x, w, y); err != nil {
					t.Fatal(err)
				}
				if err := convAccel32.gradInput(g, w, dy, dx); err != nil {
					t.Fatal(err)
				}
				if err := convAccel32.gradFilter(g, x, dy, dw); err != nil {
					t.Fatal(err)
				}
				return [3][]float32{y, dx, dw}
			}
			procs := runtime.GOMAXPROCS(0)
			got, again, serial := runAccel(procs), runAccel(procs), runAccel(1)
			for j, name := range []string{"y", "dx", "dw"} {
				e := convRelErr(f64s(got[j]), f64s(want[j]))
				worst[j] = math.Max(worst[j], e)
				if e > 1e-4 || math.IsNaN(e) {
					t.Errorf("%s: max abs diff / max abs value = %.3g > 1e-4", name, e)
				}
			}
			if convSameBits(got, again) {
				repeats++
			} else {
				t.Logf("not bit-identical run to run")
			}
			if convSameBits(got, serial) {
				sameAcrossThreads++
			}
		})
	}
	t.Logf("worst relative difference from the Go kernels: y %.2g, dx %.2g, dw %.2g", worst[0], worst[1], worst[2])
	t.Logf("bit-identical on a second run: %d of %d cases; with GOMAXPROCS 1 vs %d: %d of %d", repeats, len(cases),
		runtime.GOMAXPROCS(0), sameAcrossThreads, len(cases))
}

func convSameBits(a, b [3][]float32) bool {
	for j := range a {
		for k := range a[j] {
			if math.Float32bits(a[j][k]) != math.Float32bits(b[j][k]) {
				return false
			}
		}
	}
	return true
}

// TestConv2dOpShapeErrors checks that bad shapes and dtypes are reported when the graph is built, without panics.
func TestConv2dOpShapeErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		xs, ws      []int
		stride, pad int
		wantInError string
	}{
		{"filter channels", []int{2, 3, 8, 8}, []int{4, 2, 3, 3}, 1, 1, "filter must be (O, C, k, k)"},
		{"filter not square", []int{2, 3, 8, 8}, []int{4, 3, 3, 2}, 1, 1, "filter must be (O, C, k, k)"},
		{"filter 3-D", []int{2, 3, 8, 8}, []int{3, 3, 3}, 1, 1, "filter must be (O, C, k, k)"},
		{"input 3-D", []int{3, 8, 8}, []int{4, 3, 3, 3}, 1, 1, "input must be (N, C, H, W)"},
		{"input 5-D", []int{1, 3, 8, 8, 2}, []int{4, 3, 3, 3}, 1, 1, "input must be (N, C, H, W)"},
		{"kernel too large", []int{2, 3, 4, 8}, []int{2, 3, 7, 7}, 1, 1, "does not fit"},
		{"kernel too large, no pad", []int{1, 2, 2, 2}, []int{2, 2, 3, 3}, 1, 0, "does not fit"},
		{"zero stride", []int{2, 3, 8, 8}, []int{4, 3, 3, 3}, 0, 1, "stride"},
		{"negative padding", []int{2, 3, 8, 8}, []int{4, 3, 3, 3}, 1, -1, "padding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float64, len(tc.xs), G.WithShape(tc.xs...), G.WithName("x"))
			w := G.NewTensor(g, tensor.Float64, len(tc.ws), G.WithShape(tc.ws...), G.WithName("w"))
			_, err := Conv2dOp(x, w, tc.stride, tc.pad)
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
		w := G.NewTensor(g, tensor.Float32, 4, G.WithShape(3, 2, 3, 3), G.WithName("w"))
		if _, err := Conv2dOp(x, w, 1, 1); err == nil || !strings.Contains(err.Error(), "float32") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("runtime shape mismatch", func(t *testing.T) {
		geo := convCase{1, 2, 4, 4, 3, 3, 1, 1}.geom(t)
		op := &convOp{opBase: newOpBase("f"), g: geo}
		_, err := op.Do(newLike(tensor.Float64, 1, 2, 5, 4), newLike(tensor.Float64, 3, 2, 3, 3))
		if err == nil || !strings.Contains(err.Error(), "built for") {
			t.Fatalf("error %v", err)
		}
	})
}

// convBenchCases are the two benchmark layers: VGG-like (N = 128, 64 → 64 channels, 16×16, 3×3, pad 1) and
// ResNet-like (N = 128, 16 → 16, 32×32, 3×3, pad 1).
var convBenchCases = []struct {
	name string
	tc   convCase
}{
	{"vgg_128x64x16x16_k3", convCase{128, 64, 16, 16, 64, 3, 1, 1}},
	{"resnet_128x16x32x32_k3", convCase{128, 16, 32, 32, 16, 3, 1, 1}},
}

// BenchmarkConv2d times forward + input gradient + filter gradient of one float32 layer, and reports GFLOP/s
// counting 2·N·O·C·k²·Ho·Wo FLOPs for each of the three:
//
//	gorgonia     G.Conv2d in a graph, cost Sum(y), G.Grad w.r.t. x and w, TapeMachine (what Builder.Conv2d runs today)
//	op           Conv2dOp in the same graph (its float32 kernels: Go, or oneDNN with -tags dnnl)
//	go-kernels   the three Go kernels called directly
//	accel        the three oneDNN kernels called directly (-tags dnnl only)
func BenchmarkConv2d(b *testing.B) {
	for _, bc := range convBenchCases {
		tc := bc.tc
		geo := tc.geom(b)
		xv, wv, dyv := convRandomCase(tc, tensor.Float32, 1)
		x, w, dy := f32s(xv), f32s(wv), f32s(dyv)
		report := func(b *testing.B) {
			b.ReportMetric(3*geo.flopsPerPass*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		graph := func(ours bool) func(b *testing.B) {
			return func(b *testing.B) {
				g := G.NewGraph()
				xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(tc.n, tc.c, tc.h, tc.w), G.WithName("x"),
					G.WithValue(tensor.New(tensor.WithShape(tc.n, tc.c, tc.h, tc.w), tensor.WithBacking(append([]float32(nil), x...)))))
				wn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(tc.o, tc.c, tc.k, tc.k), G.WithName("w"),
					G.WithValue(tensor.New(tensor.WithShape(tc.o, tc.c, tc.k, tc.k), tensor.WithBacking(append([]float32(nil), w...)))))
				var y *G.Node
				var err error
				if ours {
					y, err = Conv2dOp(xn, wn, tc.stride, tc.pad)
				} else {
					y, err = G.Conv2d(xn, wn, tensor.Shape{tc.k, tc.k}, []int{tc.pad, tc.pad}, []int{tc.stride, tc.stride}, []int{1, 1})
				}
				if err != nil {
					b.Fatal(err)
				}
				cost, err := G.Sum(y)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := G.Grad(cost, xn, wn); err != nil {
					b.Fatal(err)
				}
				vm := G.NewTapeMachine(g)
				defer vm.Close()
				b.ResetTimer()
				for b.Loop() {
					vm.Reset()
					if err := vm.RunAll(); err != nil {
						b.Fatal(err)
					}
				}
				report(b)
			}
		}
		b.Run(bc.name+"/gorgonia", graph(false))
		b.Run(bc.name+"/op", graph(true))
		b.Run(bc.name+"/go-kernels", func(b *testing.B) {
			y, dx, dw := make([]float32, geo.n*geo.outSz), make([]float32, geo.n*geo.inSize), make([]float32, geo.o*geo.ckk)
			for b.Loop() {
				convForward(geo, x, w, y)
				convGradInput(geo, w, dy, dx)
				convGradFilter(geo, x, dy, dw)
			}
			report(b)
		})
		if convAccel32 != nil {
			b.Run(bc.name+"/accel", func(b *testing.B) {
				y, dx, dw := make([]float32, geo.n*geo.outSz), make([]float32, geo.n*geo.inSize), make([]float32, geo.o*geo.ckk)
				for b.Loop() {
					if err := convAccel32.forward(geo, x, w, y); err != nil {
						b.Fatal(err)
					}
					if err := convAccel32.gradInput(geo, w, dy, dx); err != nil {
						b.Fatal(err)
					}
					if err := convAccel32.gradFilter(geo, x, dy, dw); err != nil {
						b.Fatal(err)
					}
				}
				report(b)
			})
		}
	}
}

// BenchmarkConv2dKernels times each Go kernel on its own (float32, the benchmark layers), for profiling.
func BenchmarkConv2dKernels(b *testing.B) {
	for _, bc := range convBenchCases {
		geo := bc.tc.geom(b)
		xv, wv, dyv := convRandomCase(bc.tc, tensor.Float32, 1)
		x, w, dy := f32s(xv), f32s(wv), f32s(dyv)
		y, dx, dw := make([]float32, geo.n*geo.outSz), make([]float32, geo.n*geo.inSize), make([]float32, geo.o*geo.ckk)
		for _, k := range []struct {
			name string
			run  func()
		}{
			{"forward", func() { convForward(geo, x, w, y) }},
			{"grad_input", func() { convGradInput(geo, w, dy, dx) }},
			{"grad_filter", func() { convGradFilter(geo, x, dy, dw) }},
		} {
			b.Run(bc.name+"/"+k.name, func(b *testing.B) {
				for b.Loop() {
					k.run()
				}
				b.ReportMetric(geo.flopsPerPass*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
