package layers

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// poolRun builds x → pool → Σ w⊙y over a fresh graph, runs forward and backward, and returns y and dx.
func poolRun(t *testing.T, dt tensor.Dtype, xv, wv *tensor.Dense, pool func(*G.Node) (*G.Node, error)) (y, dx *tensor.Dense) {
	t.Helper()
	g := G.NewGraph()
	x := G.NewTensor(g, dt, 4, G.WithShape(xv.Shape()...), G.WithName("x"), G.WithValue(xv.Clone()))
	p, err := pool(x)
	if err != nil {
		t.Fatal(err)
	}
	w := G.NewTensor(g, dt, 4, G.WithShape(wv.Shape()...), G.WithName("w"), G.WithValue(wv))
	prod, err := G.HadamardProd(p, w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := G.Grad(cost, x); err != nil {
		t.Fatal(err)
	}
	var yv G.Value
	G.Read(p, &yv)
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	gx, err := x.Grad()
	if err != nil {
		t.Fatal(err)
	}
	return yv.(*tensor.Dense).Clone().(*tensor.Dense), gx.(*tensor.Dense).Clone().(*tensor.Dense)
}

// naivePool is the definition: first strict maximum of each clipped window, starting from lowest (−MaxFloat); the gradient
// of Σ w⊙y goes to that element.
func naivePool(x []float64, n, c, h, wd, k, s, pad int, w []float64, lowest float64) (y, dx []float64) {
	oh, ow := (h+2*pad-k)/s+1, (wd+2*pad-k)/s+1
	y, dx = make([]float64, n*c*oh*ow), make([]float64, len(x))
	for p := 0; p < n*c; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				best, at := lowest, -1
				for r := i*s - pad; r < i*s-pad+k; r++ {
					for q := j*s - pad; q < j*s-pad+k; q++ {
						if r < 0 || q < 0 || r >= h || q >= wd {
							continue
						}
						if at < 0 {
							at = p*h*wd + r*wd + q
						}
						if v := x[p*h*wd+r*wd+q]; v > best {
							best, at = v, p*h*wd+r*wd+q
						}
					}
				}
				o := (p*oh+i)*ow + j
				y[o] = best
				dx[at] += w[o]
			}
		}
	}
	return y, dx
}

func toF64(d *tensor.Dense) []float64 {
	if d.Dtype() == tensor.Float64 {
		return d.Float64s()
	}
	out := make([]float64, d.Size())
	for i, v := range d.Float32s() {
		out[i] = float64(v)
	}
	return out
}

func randDense(dt tensor.Dtype, rng *rand.Rand, ties bool, shape ...int) *tensor.Dense {
	d := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	n := d.Size()
	for i := 0; i < n; i++ {
		v := rng.NormFloat64()
		if ties {
			v = float64(rng.Intn(3)) // many equal values in a window
		}
		if dt == tensor.Float64 {
			d.Float64s()[i] = v
		} else {
			d.Float32s()[i] = float32(v)
		}
	}
	return d
}

// TestMaxPoolMatchesReferenceAndGorgonia compares the op's forward and backward passes with the naive definition
// and, where Gorgonia's MaxPool2D supports the case, with Gorgonia's op, bit for bit, in float32 and float64,
// including odd sizes (dropped trailing rows/columns), overlapping windows, padding and ties.
func TestMaxPoolMatchesReferenceAndGorgonia(t *testing.T) {
	cases := []struct{ n, c, h, w, k, s, pad int }{
		{2, 3, 4, 4, 2, 2, 0}, {2, 3, 5, 7, 2, 2, 0}, {1, 2, 3, 3, 2, 2, 0}, {3, 2, 6, 5, 3, 2, 0},
		{2, 2, 5, 5, 2, 1, 0}, {2, 2, 5, 6, 3, 2, 1}, {1, 3, 7, 7, 3, 3, 1}, {4, 8, 14, 14, 2, 2, 0},
	}
	rng := rand.New(rand.NewSource(9))
	for _, c := range cases {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			for _, ties := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v/ties=%v", c, dt, ties), func(t *testing.T) {
					xv := randDense(dt, rng, ties, c.n, c.c, c.h, c.w)
					oh, ow := (c.h+2*c.pad-c.k)/c.s+1, (c.w+2*c.pad-c.k)/c.s+1
					wv := randDense(dt, rng, false, c.n, c.c, oh, ow)
					y, dx := poolRun(t, dt, xv, wv, func(x *G.Node) (*G.Node, error) { return MaxPool2dOp(x, c.k, c.s, c.pad) })
					lowest := -math.MaxFloat64
					if dt == tensor.Float32 {
						lowest = -math.MaxFloat32
					}
					wantY, wantDx := naivePool(toF64(xv), c.n, c.c, c.h, c.w, c.k, c.s, c.pad, toF64(wv), lowest)
					if dt == tensor.Float32 { // the reference adds in float64; round as float32 does
						for i := range wantDx {
							wantDx[i] = float64(float32(wantDx[i]))
						}
					}
					sameValues(t, "y", toF64(y), wantY, dt)
					sameValues(t, "dx", toF64(dx), wantDx, dt)
					gy, gdx := poolRun(t, dt, xv, wv, func(x *G.Node) (*G.Node, error) {
						return G.MaxPool2D(x, tensor.Shape{c.k, c.k}, []int{c.pad, c.pad}, []int{c.s, c.s})
					})
					sameValues(t, "y vs Gorgonia", toF64(y), toF64(gy), dt)
					sameValues(t, "dx vs Gorgonia", toF64(dx), toF64(gdx), dt)
				})
			}
		}
	}
}

// sameValues fails unless got equals want exactly (float32 sums of at most a few terms in fixed order are exact
// to compare against float64 sums rounded to float32 only when no more than one term lands on an element, so for
// float32 a relative tolerance of one float32 rounding is allowed).
func sameValues(t *testing.T, what string, got, want []float64, dt tensor.Dtype) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	tol := 0.0
	if dt == tensor.Float32 {
		tol = 1.2e-7
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestGradMaxPool(t *testing.T) {
	for _, c := range []struct{ h, w, k, s, pad int }{{4, 4, 2, 2, 0}, {5, 7, 2, 2, 0}, {5, 5, 3, 2, 1}, {5, 4, 2, 1, 0}} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			checkFragment(t, true, []int{2, 3, c.h, c.w}, func(b *Builder, x *G.Node) (*G.Node, error) {
				return MaxPool2dOp(x, c.k, c.s, c.pad)
			})
		})
	}
}

func TestMaxPoolErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, 1, 3, 3), G.WithName("x"))
	for _, c := range []struct{ k, s, pad int }{{4, 1, 0}, {0, 1, 0}, {2, 0, 0}, {2, 2, -1}} {
		if _, err := MaxPool2dOp(x, c.k, c.s, c.pad); err == nil {
			t.Errorf("%v: no error", c)
		}
	}
	if _, err := MaxPool2dOp(x, 4, 1, 1); err != nil {
		t.Errorf("padded 4x4 window on 3x3: %v", err)
	}
}

// BenchmarkMaxPool times the 2×2 stride-2 max-pool's forward and backward passes on (128, 64, 28, 28) float32.
func BenchmarkMaxPool(b *testing.B) {
	x := benchTensor(1, 128, 64, 28, 28)
	dy := benchTensor(2, 128, 64, 14, 14)
	op := &maxPoolOp{opBase: newOpBase("maxpool"), k: 2, stride: 2}
	back := &maxPoolGradOp{opBase: newOpBase("maxpool_grad"), fwd: op, inShape: tensor.Shape{128, 64, 28, 28}}
	b.Run("forward", func(b *testing.B) {
		for range b.N {
			if _, err := op.Do(x); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backward", func(b *testing.B) {
		for range b.N {
			if _, err := back.Do(dy); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMaxPoolSpecialValues checks windows holding NaN, ±Inf, −MaxFloat and zeros of both signs, bit for bit against
// the definition (forward and backward) and Gorgonia's forward pass (whose backward pass indexes out of range on a
// window without any value above −MaxFloat).
func TestMaxPoolSpecialValues(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		lowest := -math.MaxFloat64
		if dt == tensor.Float32 {
			lowest = -math.MaxFloat32
		}
		vals := []float64{math.NaN(), math.Inf(-1), math.Inf(1), lowest, math.Copysign(0, -1), 0, 1, -1, 2}
		for _, c := range []struct{ k, s int }{{2, 2}, {3, 2}} {
			const n, ch, h, w = 3, 4, 6, 7
			xv := tensor.New(tensor.Of(dt), tensor.WithShape(n, ch, h, w))
			xs := make([]float64, n*ch*h*w)
			for i := range xs {
				xs[i] = vals[rng.Intn(len(vals))]
				if i%16 < 4 { // some windows of only NaN, −Inf and −MaxFloat
					xs[i] = vals[rng.Intn(4)]
				}
				if i%16 >= 4 && i%16 < 8 { // and some of only zeros
					xs[i] = vals[4+rng.Intn(2)]
				}
			}
			if dt == tensor.Float64 {
				copy(xv.Float64s(), xs)
			} else {
				for i, v := range xs {
					xv.Float32s()[i] = float32(v)
				}
			}
			oh, ow := (h-c.k)/c.s+1, (w-c.k)/c.s+1
			wv := randDense(dt, rng, false, n, ch, oh, ow)
			y, dx := poolRun(t, dt, xv, wv, func(x *G.Node) (*G.Node, error) { return MaxPool2dOp(x, c.k, c.s, 0) })
			wantY, wantDx := naivePool(xs, n, ch, h, w, c.k, c.s, 0, toF64(wv), lowest)
			sameBits(t, "y", toF64(y), wantY)
			sameValues(t, "dx", toF64(dx), wantDx, dt)
			g := G.NewGraph()
			x := G.NewTensor(g, dt, 4, G.WithShape(n, ch, h, w), G.WithName("x"), G.WithValue(xv))
			p, err := G.MaxPool2D(x, tensor.Shape{c.k, c.k}, []int{0, 0}, []int{c.s, c.s})
			if err != nil {
				t.Fatal(err)
			}
			var gy G.Value
			G.Read(p, &gy)
			m := G.NewTapeMachine(g)
			if err := m.RunAll(); err != nil {
				t.Fatal(err)
			}
			m.Close()
			sameBits(t, "y vs Gorgonia", toF64(y), toF64(gy.(*tensor.Dense)))
		}
	}
}

// sameBits fails unless got and want are identical, including the sign of zeros (NaNs match any NaN).
func sameBits(t *testing.T, what string, got, want []float64) {
	t.Helper()
	for i := range got {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Fatalf("%s[%d] = %v (bits %x), want %v (bits %x)", what, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
		}
	}
}
