package layers

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// naiveBNBackward is the textbook BatchNorm backward pass in float64 for y = γ·x̂ + β, with x̂ normalised by
// the batch statistics (training) or by the given running ones, and upstream gradient dy.
func naiveBNBackward(x, dy, gamma []float64, runMean, runVar []float64, n, c, hw int, training bool) (dx, dg, db []float64) {
	dx, dg, db = make([]float64, len(x)), make([]float64, c), make([]float64, c)
	m := float64(n * hw)
	at := func(i, k, j int) int { return (i*c+k)*hw + j }
	for k := 0; k < c; k++ {
		mu, v := runMean[k], runVar[k]
		if training {
			mu, v = 0, 0
			for i := 0; i < n; i++ {
				for j := 0; j < hw; j++ {
					mu += x[at(i, k, j)]
				}
			}
			mu /= m
			for i := 0; i < n; i++ {
				for j := 0; j < hw; j++ {
					d := x[at(i, k, j)] - mu
					v += d * d
				}
			}
			v /= m
		}
		sd := math.Sqrt(v + DefaultBNEps)
		var sumDy, sumDyXhat float64
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				sumDy += dy[at(i, k, j)]
				sumDyXhat += dy[at(i, k, j)] * (x[at(i, k, j)] - mu) / sd
			}
		}
		dg[k], db[k] = sumDyXhat, sumDy
		for i := 0; i < n; i++ {
			for j := 0; j < hw; j++ {
				p := at(i, k, j)
				if training {
					xhat := (x[p] - mu) / sd
					dx[p] = gamma[k] / sd * (dy[p] - sumDy/m - xhat*sumDyXhat/m)
				} else {
					dx[p] = gamma[k] / sd * dy[p]
				}
			}
		}
	}
	return dx, dg, db
}

// TestBatchNormBackwardMatchesReference runs the op's three backward ops in float32 and float64, in training and
// evaluation, for gradients with respect to every subset of (x, γ, β), over two passes with different inputs (the
// backward ops share sums computed once per forward pass), and compares them with the textbook formulas.
func TestBatchNormBackwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, training := range []bool{true, false} {
			for _, shape := range [][]int{{4, 3, 5, 6}, {6, 5}} {
				for _, wrt := range [][]int{{0, 1, 2}, {0}, {1}, {2}, {1, 2}, {0, 2}} {
					name := fmt.Sprintf("%v/training=%v/%v/wrt=%v", dt, training, shape, wrt)
					t.Run(name, func(t *testing.T) { checkBNBackward(t, rng, dt, training, shape, wrt) })
				}
			}
		}
	}
}

func checkBNBackward(t *testing.T, rng *rand.Rand, dt tensor.Dtype, training bool, shape []int, wrt []int) {
	store, err := NewStore(dt, 3)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(store, training)
	n, c := shape[0], shape[1]
	hw := 1
	for _, d := range shape[2:] {
		hw *= d
	}
	x := b.Input("x", shape...)
	y, err := b.BatchNorm(x, "bn")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := store.LookupBN("bn")
	for k := range st.Mean {
		st.Mean[k], st.Var[k] = 0.2*float64(k)-0.3, 0.6+0.3*float64(k)
	}
	nodes, _ := b.Learnables() // γ, β
	w := b.Input("w", shape...)
	prod, err := G.HadamardProd(y, w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	all := []*G.Node{x, nodes[0], nodes[1]}
	var want []*G.Node
	for _, i := range wrt {
		want = append(want, all[i])
	}
	if _, err := G.Grad(cost, want...); err != nil {
		t.Fatal(err)
	}
	gamma := make([]float64, c)
	for k := range gamma {
		gamma[k] = 0.5 + 0.25*float64(k)
	}
	setF := func(d *tensor.Dense, v []float64) {
		for i, f := range v {
			if dt == tensor.Float64 {
				d.Float64s()[i] = f
			} else {
				d.Float32s()[i] = float32(f)
			}
		}
	}
	setF(nodes[0].Value().(*tensor.Dense), gamma)
	m := G.NewTapeMachine(b.Graph)
	defer m.Close()
	for pass := 0; pass < 2; pass++ {
		xs, dys := make([]float64, n*c*hw), make([]float64, n*c*hw)
		for i := range xs {
			xs[i] = float64(float32(rng.NormFloat64()*2 + float64(pass)))
			dys[i] = float64(float32(rng.NormFloat64()))
		}
		xv, wv := tensor.New(tensor.Of(dt), tensor.WithShape(shape...)), tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		setF(xv, xs)
		setF(wv, dys)
		if err := G.Let(x, xv); err != nil {
			t.Fatal(err)
		}
		if err := G.Let(w, wv); err != nil {
			t.Fatal(err)
		}
		runMean, runVar := append([]float64(nil), st.Mean...), append([]float64(nil), st.Var...)
		m.Reset()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		dx, dg, db := naiveBNBackward(xs, dys, gamma, runMean, runVar, n, c, hw, training)
		ref := [][]float64{dx, dg, db}
		for _, i := range wrt {
			g, err := all[i].Grad()
			if err != nil {
				t.Fatal(err)
			}
			got := toF64(g.(*tensor.Dense))
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 2e-6
			}
			for j := range got {
				if math.Abs(got[j]-ref[i][j]) > tol*(1+math.Abs(ref[i][j])) {
					t.Fatalf("pass %d: d%d[%d] = %v, want %v", pass, i, j, got[j], ref[i][j])
				}
			}
		}
	}
}

// BenchmarkBatchNorm times a (128, 64, 14, 14) float32 BatchNorm's forward pass and its three backward ops.
func BenchmarkBatchNorm(b *testing.B) {
	x := benchTensor(1, 128, 64, 14, 14)
	dy := benchTensor(2, 128, 64, 14, 14)
	gamma, beta := benchTensor(3, 64), benchTensor(4, 64)
	op := &batchNormOp{opBase: newOpBase("batchnorm"), stats: NewBNStats(64), phase: NewPhase(true)}
	sums := &bnGradSums{}
	var grads []*batchNormGradOp
	for wrt := 0; wrt < 3; wrt++ {
		grads = append(grads, &batchNormGradOp{opBase: newOpBase("batchnorm_grad"), fwd: op, wrt: wrt, sums: sums})
	}
	b.Run("forward", func(b *testing.B) {
		for range b.N {
			if _, err := op.Do(x, gamma, beta); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forward_eval", func(b *testing.B) {
		ev := &batchNormOp{opBase: newOpBase("batchnorm"), stats: op.stats, phase: NewPhase(false)}
		b.SetBytes(int64(4 * x.Size()))
		for range b.N {
			if _, err := ev.Do(x, gamma, beta); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("backward", func(b *testing.B) {
		for range b.N {
			op.pass++ // a new forward pass: the sums are recomputed
			for _, g := range grads {
				if _, err := g.Do(x, gamma, dy); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestBatchNormAcceleratorAgrees checks, in a build with a float32 accelerator (-tags dnnl), that its training
// forward pass (output and running statistics) and its three gradients agree with the Go loops within 1e-4
// relative (max abs difference over max abs value), and that repeated runs are bit-identical.
func TestBatchNormAcceleratorAgrees(t *testing.T) {
	if bnAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	accel := bnAccel32
	defer func() { bnAccel32 = accel }()
	for i, shape := range [][]int{{32, 16, 16, 16}, {64, 32, 8, 8}, {128, 24, 3, 5}, {16, 8}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			c := shape[1]
			x, dy := benchTensor(int64(10+i), shape...), benchTensor(int64(20+i), shape...)
			for j, v := range x.Float32s() {
				x.Float32s()[j] = v*1.5 + 0.7
			}
			gamma, beta := benchTensor(int64(30+i), c), benchTensor(int64(40+i), c)
			run := func(a bnAccelerator) [6][]float64 {
				bnAccel32 = a
				stats := NewBNStats(c)
				op := &batchNormOp{opBase: newOpBase("batchnorm"), stats: stats, phase: NewPhase(true)}
				sums := &bnGradSums{}
				y, err := op.Do(x, gamma, beta)
				if err != nil {
					t.Fatal(err)
				}
				out := [6][]float64{toF64(y.(*tensor.Dense)), nil, nil, nil, stats.Mean, stats.Var}
				for _, wrt := range []int{1, 0, 2} { // dγ first: the dx op must still get its dx
					g := &batchNormGradOp{opBase: newOpBase("batchnorm_grad"), fwd: op, wrt: wrt, sums: sums}
					v, err := g.Do(x, gamma, dy)
					if err != nil {
						t.Fatal(err)
					}
					out[1+wrt] = toF64(v.(*tensor.Dense))
				}
				return out
			}
			want, got, again := run(nil), run(accel), run(accel)
			for j, name := range []string{"y", "dx", "dγ", "dβ", "running mean", "running var"} {
				var diff, scale float64
				for k := range want[j] {
					diff = math.Max(diff, math.Abs(got[j][k]-want[j][k]))
					scale = math.Max(scale, math.Abs(want[j][k]))
					if math.Float64bits(got[j][k]) != math.Float64bits(again[j][k]) {
						t.Fatalf("%s[%d] differs between runs: %v, %v", name, k, got[j][k], again[j][k])
					}
				}
				if e := diff / scale; e > 1e-4 || math.IsNaN(e) {
					t.Errorf("%s: relative difference %.3g > 1e-4", name, e)
				} else {
					t.Logf("%s: relative difference %.3g", name, e)
				}
			}
		})
	}
}

// TestBatchNormEvalAcceleratorIdentical checks, in a build with a float32 accelerator, that evaluation-mode
// BatchNorm (running statistics) on it gives bnNormalise's bits: both compute x·(γ/σ) + (β − μγ/σ) in float64 and
// round once.
func TestBatchNormEvalAcceleratorIdentical(t *testing.T) {
	if bnAccel32 == nil {
		t.Skip("no float32 accelerator in this build (use -tags dnnl)")
	}
	accel := bnAccel32
	defer func() { bnAccel32 = accel }()
	x := benchTensor(5, 16, 24, 7, 9)
	gamma, beta := benchTensor(6, 24), benchTensor(7, 24)
	stats := NewBNStats(24)
	for k := range stats.Mean {
		stats.Mean[k], stats.Var[k] = float64(k)/10-1, 0.5+float64(k)/7
	}
	var outs [2][]float32
	for i, a := range []bnAccelerator{nil, accel} {
		bnAccel32 = a
		op := &batchNormOp{opBase: newOpBase("batchnorm"), stats: stats, phase: NewPhase(false)}
		y, err := op.Do(x, gamma, beta)
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = y.(*tensor.Dense).Float32s()
	}
	for i := range outs[0] {
		if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
			t.Fatalf("element %d: %v on the accelerator, %v in Go", i, outs[1][i], outs[0][i])
		}
	}
}
