package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PyTorch's BatchNorm defaults, which bnzoo follows.
const (
	DefaultBNMomentum = 0.1
	DefaultBNEps      = 1e-5
)

// BNStats is a BatchNorm's running statistics with PyTorch's semantics: they start at mean 0, variance 1; each
// training forward pass sets running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance
// (the normalisation itself uses the biased one). The stats live outside any graph, so every graph built on the
// same parameters (training, evaluation, another batch size) shares them, and building machines never resets them.
type BNStats struct {
	Mean, Var []float64
	Momentum  float64
	Eps       float64
	// Tracked counts the training batches seen (PyTorch's num_batches_tracked).
	Tracked int64
}

// NewBNStats returns fresh statistics for c channels with PyTorch's defaults.
func NewBNStats(c int) *BNStats {
	s := &BNStats{Mean: make([]float64, c), Var: make([]float64, c), Momentum: DefaultBNMomentum, Eps: DefaultBNEps}
	for i := range s.Var {
		s.Var[i] = 1
	}
	return s
}

// BatchNorm adds y = γ·(x − μ)/√(σ² + ε) + β to x's graph, normalising each channel (axis 1) of an (N, C) or
// (N, C, H, W) input. gamma and beta are (C) vectors. In training (phase.Training()) μ and σ² are the batch's
// statistics and stats is updated; in evaluation they are stats' running values.
func BatchNorm(x, gamma, beta *G.Node, stats *BNStats, phase *Phase) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 || s[1] != len(stats.Mean) {
		return nil, fmt.Errorf("batchnorm: input shape %v does not have %d channels on axis 1", s, len(stats.Mean))
	}
	op := &batchNormOp{opBase: newOpBase("batchnorm"), stats: stats, phase: phase}
	y, err := G.ApplyOp(op, x, gamma, beta)
	if err != nil {
		return nil, fmt.Errorf("batchnorm: %w", err)
	}
	return y, nil
}

// bnAccelerator runs float32 batch normalisation outside Go. conv_kernels_dnnl.go installs bnzoo's C loops in
// -tags dnnl builds; in the default build bnAccel32 stays nil and the Go loops below run (they also run for
// float64). The batch statistics pass through in float64, so the backward pass normalises exactly as the forward
// pass did: rounded to float32, a near-constant channel's mean alone moves x̂ by ~1e-4 of its value and deep
// networks amplify that into 1e-3 gradient differences.
type bnAccelerator interface {
	forward(n, c, hw int, eps float32, x, gamma, beta, y []float32, mean, variance []float64) error
	backward(n, c, hw int, eps float32, x []float32, mean, variance []float64, gamma, dy, dx, dgamma, dbeta []float32) error
	// normalise writes y = x·scale[k] + shift[k] per channel in float64, rounded once (bnNormalise's arithmetic).
	normalise(n, c, hw int, x, y []float32, scale, shift []float64) error
}

var bnAccel32 bnAccelerator

// batchNormOp is the forward op. It keeps the mean and 1/σ it normalised with for its backward ops, which always
// run after it within one pass of the machine.
type batchNormOp struct {
	opBase
	stats *BNStats
	phase *Phase

	usedBatch    bool      // whether the last forward pass normalised with batch statistics
	usedAccel    bool      // whether it ran on bnAccel32 (then mean and batchVar hold its statistics)
	batchVar     []float64 // the accelerator's biased batch variance, for its backward pass
	mean, invStd []float64 // per channel, from the last forward pass
	lastGeometry [3]int
	pass         uint64 // counts forward passes, so that backward ops know which one their sums belong to
}

func (op *batchNormOp) Arity() int { return 3 }
func (op *batchNormOp) Type() hm.Type {
	a, c := hm.TypeVariable('a'), hm.TypeVariable('c')
	return hm.NewFnType(a, c, c, a)
}
func (op *batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *batchNormOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *batchNormOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	ts, err := denseInputs(op.name, in)
	if err != nil {
		return nil, err
	}
	x, gamma, beta := ts[0], ts[1], ts[2]
	n, c, hw, err := channelGeometry(x.Shape())
	if err != nil {
		return nil, fmt.Errorf("batchnorm: %w", err)
	}
	op.lastGeometry = [3]int{n, c, hw}
	op.pass++
	if len(op.mean) != c {
		op.mean, op.invStd = make([]float64, c), make([]float64, c)
	}
	training := op.phase.Training()
	op.usedBatch = training
	if training {
		m := n * hw
		if m < 2 {
			return nil, fmt.Errorf("batchnorm: training needs more than 1 value per channel, got input shape %v", x.Shape())
		}
		variance := make([]float64, c)
		op.usedAccel = bnAccel32 != nil && x.Dtype() == tensor.Float32
		var y *tensor.Dense
		switch {
		case op.usedAccel:
			y = outUninit(a, x.Dtype(), x.Shape()...)
			if err := bnAccel32.forward(n, c, hw, float32(op.stats.Eps), x.Float32s(), gamma.Float32s(),
				beta.Float32s(), y.Float32s(), op.mean, variance); err != nil {
				return nil, fmt.Errorf("%s: %w", op.name, err)
			}
			op.batchVar = variance
		case x.Dtype() == tensor.Float64:
			parallelChannels(c, n*hw, func(k int) { op.mean[k], variance[k] = channelMoment(x.Float64s(), n, c, hw, k) })
		default:
			parallelChannels(c, n*hw, func(k int) { op.mean[k], variance[k] = channelMoment(x.Float32s(), n, c, hw, k) })
		}
		st := op.stats
		unbias := float64(m) / float64(m-1)
		for k := 0; k < c; k++ {
			op.invStd[k] = 1 / math.Sqrt(variance[k]+st.Eps)
			st.Mean[k] = (1-st.Momentum)*st.Mean[k] + st.Momentum*op.mean[k]
			st.Var[k] = (1-st.Momentum)*st.Var[k] + st.Momentum*variance[k]*unbias
			if x.Dtype() == tensor.Float32 {
				// A float32 model keeps float32 statistics, as PyTorch does, so that a saved F32 file holds
				// them exactly.
				st.Mean[k], st.Var[k] = float64(float32(st.Mean[k])), float64(float32(st.Var[k]))
			}
		}
		st.Tracked++
		if y != nil {
			return y, nil
		}
	} else {
		op.usedAccel = false
		for k := 0; k < c; k++ {
			op.mean[k] = op.stats.Mean[k]
			op.invStd[k] = 1 / math.Sqrt(op.stats.Var[k]+op.stats.Eps)
		}
	}
	y := outUninit(a, x.Dtype(), x.Shape()...)
	switch {
	case x.Dtype() == tensor.Float64:
		parallelChannels(c, n*hw, func(k int) {
			bnNormalise(x.Float64s(), y.Float64s(), gamma.Float64s(), beta.Float64s(), op.mean, op.invStd, n, c, hw, k)
		})
	case bnAccel32 != nil:
		scale, shift := make([]float64, c), make([]float64, c)
		g, b := gamma.Float32s(), beta.Float32s()
		for k := range scale {
			scale[k] = float64(g[k]) * op.invStd[k]
			shift[k] = float64(b[k]) - op.mean[k]*scale[k]
		}
		if err := bnAccel32.normalise(n, c, hw, x.Float32s(), y.Float32s(), scale, shift); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		parallelChannels(c, n*hw, func(k int) {
			bnNormalise(x.Float32s(), y.Float32s(), gamma.Float32s(), beta.Float32s(), op.mean, op.invStd, n, c, hw, k)
		})
	}
	return y, nil
}

// channelMoment returns channel k's mean and biased variance, by two passes in float64 so that float32 inputs lose
// nothing.
func channelMoment[T float](x []T, n, c, hw, k int) (mean, variance float64) {
	m := float64(n * hw)
	var s float64
	for i := 0; i < n; i++ {
		for _, v := range x[(i*c+k)*hw : (i*c+k+1)*hw] {
			s += float64(v)
		}
	}
	mu := s / m
	var q float64
	for i := 0; i < n; i++ {
		for _, v := range x[(i*c+k)*hw : (i*c+k+1)*hw] {
			d := float64(v) - mu
			q += d * d
		}
	}
	return mu, q / m
}

// channelMoments returns every channel's mean and biased variance.
func channelMoments[T float](x []T, n, c, hw int, mean []float64) []float64 {
	variance := make([]float64, c)
	for k := 0; k < c; k++ {
		mean[k], variance[k] = channelMoment(x, n, c, hw, k)
	}
	return variance
}

// parallelChannels runs fn(k) for every channel on the worker pool; perChannel is each channel's element count.
// Each channel is handled by one goroutine, so results do not depend on scheduling.
func parallelChannels(c, perChannel int, fn func(k int)) {
	parallelFor(c, c*perChannel, func() func(int) { return fn })
}

// bnNormalise writes channel k of y = γ·(x − μ)/σ + β.
func bnNormalise[T float](x, y, gamma, beta []T, mean, invStd []float64, n, c, hw, k int) {
	scale := float64(gamma[k]) * invStd[k]
	shift := float64(beta[k]) - mean[k]*scale
	for i := 0; i < n; i++ {
		off := (i*c + k) * hw
		for j, v := range x[off : off+hw] {
			y[off+j] = T(float64(v)*scale + shift)
		}
	}
}

func (op *batchNormOp) DiffWRT(int) []bool { return []bool{true, true, true} }

func (op *batchNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	res := make(G.Nodes, 3)
	sums := &bnGradSums{}
	for wrt := range res {
		b := &batchNormGradOp{opBase: newOpBase(fmt.Sprintf("batchnorm_grad.%d", wrt)), fwd: op, wrt: wrt, sums: sums}
		g, err := G.ApplyOp(b, in[0], in[1], grad)
		if err != nil {
			return nil, err
		}
		res[wrt] = g
	}
	return res, nil
}

// batchNormGradOp computes one of dx (wrt 0), dγ (wrt 1) or dβ (wrt 2) from (x, γ, dy), using the statistics its
// forward op normalised with. With batch statistics, x̂ = (x − μ)/σ, dβ = Σdy, dγ = Σdy·x̂ and
// dx = γ/(σM)·(M·dy − dβ − x̂·dγ) over the M = N·H·W values of a channel; with running statistics μ and σ are
// constants and dx = γ·dy/σ.
//
// The three ops of one SymDiff share the per-channel sums Σdy and Σdy·x̂: whichever runs first after a forward pass
// computes them for every channel, the others reuse them (all three take the same x, γ and dy nodes).
type batchNormGradOp struct {
	opBase
	fwd  *batchNormOp
	wrt  int
	sums *bnGradSums
}

// bnGradSums holds Σdy and Σdy·x̂ per channel for the forward pass numbered pass (0: none yet). When that pass ran
// on bnAccel32, whose backward pass computes dx with the sums, dx holds it until the dx op takes it.
type bnGradSums struct {
	pass             uint64
	sumDy, sumDyXhat []float64
	dx               *tensor.Dense
}

// computeAccel runs bnAccel32's backward pass for f's last forward pass: the sums, and dx kept for the dx op.
// dx comes from a when the dx op asks (a is then that op's allocator) and from the heap when a dγ or dβ op runs
// first: an op may take only its own output from a machine's pool.
func (s *bnGradSums) computeAccel(a machine.Allocator, x, gamma, dy *tensor.Dense, f *batchNormOp, n, c, hw int) error {
	dx := outUninit(a, x.Dtype(), x.Shape()...)
	dg, db := make([]float32, c), make([]float32, c)
	if err := bnAccel32.backward(n, c, hw, float32(f.stats.Eps), x.Float32s(), f.mean, f.batchVar, gamma.Float32s(),
		dy.Float32s(), dx.Float32s(), dg, db); err != nil {
		return err
	}
	if len(s.sumDy) != c {
		s.sumDy, s.sumDyXhat = make([]float64, c), make([]float64, c)
	}
	for k := range dg {
		s.sumDyXhat[k], s.sumDy[k] = float64(dg[k]), float64(db[k])
	}
	s.dx, s.pass = dx, f.pass
	return nil
}

func (op *batchNormGradOp) Arity() int { return 3 }
func (op *batchNormGradOp) Type() hm.Type {
	a, c := hm.TypeVariable('a'), hm.TypeVariable('c')
	if op.wrt == 0 {
		return hm.NewFnType(a, c, a, a)
	}
	return hm.NewFnType(a, c, a, c)
}
func (op *batchNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if op.wrt == 0 {
		return in[0].(tensor.Shape).Clone(), nil
	}
	return in[1].(tensor.Shape).Clone(), nil
}

func (op *batchNormGradOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *batchNormGradOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	ts, err := denseInputs(op.name, in)
	if err != nil {
		return nil, err
	}
	x, gamma, dy := ts[0], ts[1], ts[2]
	n, c, hw, err := channelGeometry(x.Shape())
	if err != nil {
		return nil, err
	}
	if op.fwd.lastGeometry != [3]int{n, c, hw} {
		return nil, fmt.Errorf("%s: backward pass without a matching forward pass", op.name)
	}
	f, sums := op.fwd, op.sums
	if f.usedBatch && f.usedAccel {
		// The accelerator computes dx, dγ and dβ in one call; whichever op runs first makes it, and dx is handed
		// to the dx op once (computed again should that op run twice in one pass).
		if sums.pass != f.pass || (op.wrt == 0 && sums.dx == nil) {
			var dxAlloc machine.Allocator
			if op.wrt == 0 {
				dxAlloc = a
			}
			if err := sums.computeAccel(dxAlloc, x, gamma, dy, f, n, c, hw); err != nil {
				return nil, fmt.Errorf("%s: %w", op.name, err)
			}
		}
		if op.wrt == 0 {
			dx := sums.dx
			sums.dx = nil
			return dx, nil
		}
	}
	// dγ and dβ are the sums themselves; dx needs them only when the forward pass used batch statistics.
	if (op.wrt != 0 || f.usedBatch) && sums.pass != f.pass {
		sums.compute(x, dy, f, n, c, hw)
	}
	if op.wrt != 0 {
		out := outLike(a, x.Dtype(), c)
		src := sums.sumDyXhat
		if op.wrt == 2 {
			src = sums.sumDy
		}
		switch x.Dtype() {
		case tensor.Float64:
			copy(out.Float64s(), src)
		default:
			o := out.Float32s()
			for k, v := range src {
				o[k] = float32(v)
			}
		}
		return out, nil
	}
	out := outUninit(a, x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		parallelChannels(c, n*hw, func(k int) {
			bnBackwardInput(f, sums, x.Float64s(), gamma.Float64s(), dy.Float64s(), out.Float64s(), n, c, hw, k)
		})
	default:
		parallelChannels(c, n*hw, func(k int) {
			bnBackwardInput(f, sums, x.Float32s(), gamma.Float32s(), dy.Float32s(), out.Float32s(), n, c, hw, k)
		})
	}
	return out, nil
}

// compute fills s with every channel's Σdy and Σdy·x̂ for f's last forward pass. Each channel is summed by one
// goroutine in a fixed order, so the sums do not depend on scheduling.
func (s *bnGradSums) compute(x, dy *tensor.Dense, f *batchNormOp, n, c, hw int) {
	if len(s.sumDy) != c {
		s.sumDy, s.sumDyXhat = make([]float64, c), make([]float64, c)
	}
	switch x.Dtype() {
	case tensor.Float64:
		parallelChannels(c, n*hw, func(k int) {
			s.sumDy[k], s.sumDyXhat[k] = bnChannelSums(x.Float64s(), dy.Float64s(), f.mean[k], f.invStd[k], n, c, hw, k)
		})
	default:
		parallelChannels(c, n*hw, func(k int) {
			s.sumDy[k], s.sumDyXhat[k] = bnChannelSums(x.Float32s(), dy.Float32s(), f.mean[k], f.invStd[k], n, c, hw, k)
		})
	}
	s.pass = f.pass
}

// bnChannelSums returns channel k's Σdy and Σdy·(x − μ)/σ, accumulated in float64 (with the arithmetic of the
// former per-op loops, so that results are bit for bit what they were).
func bnChannelSums[T float](x, dy []T, mu, invStd float64, n, c, hw, k int) (sumDy, sumDyXhat float64) {
	for i := 0; i < n; i++ {
		off := (i*c + k) * hw
		xs, ds := x[off:off+hw], dy[off:off+hw]
		for j, d := range ds {
			v := float64(d)
			sumDy += v
			sumDyXhat += v * (float64(xs[j]) - mu) * invStd
		}
	}
	return sumDy, sumDyXhat
}

// bnBackwardInput writes channel k of dx: γ/(σM)·(M·dy − Σdy − x̂·Σdy·x̂) with batch statistics, γ·dy/σ without.
func bnBackwardInput[T float](f *batchNormOp, s *bnGradSums, x, gamma, dy, out []T, n, c, hw, k int) {
	mu, is, g := f.mean[k], f.invStd[k], float64(gamma[k])
	m := float64(n * hw)
	for i := 0; i < n; i++ {
		off := (i*c + k) * hw
		xs, ds, os := x[off:off+hw], dy[off:off+hw], out[off:off+hw]
		if !f.usedBatch {
			a := g * is
			for j, d := range ds {
				os[j] = T(a * float64(d))
			}
			continue
		}
		a, sumDy, sumDyXhat := g*is/m, s.sumDy[k], s.sumDyXhat[k]
		for j, d := range ds {
			xhat := (float64(xs[j]) - mu) * is
			os[j] = T(a * (m*float64(d) - sumDy - xhat*sumDyXhat))
		}
	}
}
