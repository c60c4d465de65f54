package layers

import (
	"fmt"
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

// batchNormOp is the forward op. It keeps the mean and 1/σ it normalised with for its backward ops, which always
// run after it within one pass of the machine.
type batchNormOp struct {
	opBase
	stats *BNStats
	phase *Phase

	usedBatch    bool      // whether the last forward pass normalised with batch statistics
	mean, invStd []float64 // per channel, from the last forward pass
	lastGeometry [3]int
}

func (op *batchNormOp) Arity() int { return 3 }
func (op *batchNormOp) Type() hm.Type {
	a, c := hm.TypeVariable('a'), hm.TypeVariable('c')
	return hm.NewFnType(a, c, c, a)
}
func (op *batchNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *batchNormOp) Do(in ...G.Value) (G.Value, error) {
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
		switch x.Dtype() {
		case tensor.Float64:
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
	} else {
		for k := 0; k < c; k++ {
			op.mean[k] = op.stats.Mean[k]
			op.invStd[k] = 1 / math.Sqrt(op.stats.Var[k]+op.stats.Eps)
		}
	}
	y := newLike(x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		parallelChannels(c, n*hw, func(k int) {
			bnNormalise(x.Float64s(), y.Float64s(), gamma.Float64s(), beta.Float64s(), op.mean, op.invStd, n, c, hw, k)
		})
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
	for wrt := range res {
		b := &batchNormGradOp{opBase: newOpBase(fmt.Sprintf("batchnorm_grad.%d", wrt)), fwd: op, wrt: wrt}
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
type batchNormGradOp struct {
	opBase
	fwd *batchNormOp
	wrt int
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

func (op *batchNormGradOp) Do(in ...G.Value) (G.Value, error) {
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
	var out *tensor.Dense
	if op.wrt == 0 {
		out = newLike(x.Dtype(), x.Shape()...)
	} else {
		out = newLike(x.Dtype(), c)
	}
	switch x.Dtype() {
	case tensor.Float64:
		parallelChannels(c, n*hw, func(k int) {
			bnBackward(op.fwd, op.wrt, x.Float64s(), gamma.Float64s(), dy.Float64s(), out.Float64s(), n, c, hw, k)
		})
	default:
		parallelChannels(c, n*hw, func(k int) {
			bnBackward(op.fwd, op.wrt, x.Float32s(), gamma.Float32s(), dy.Float32s(), out.Float32s(), n, c, hw, k)
		})
	}
	return out, nil
}

// bnBackward writes channel k of the requested gradient.
func bnBackward[T float](f *batchNormOp, wrt int, x, gamma, dy, out []T, n, c, hw, k int) {
	m := float64(n * hw)
	mu, is := f.mean[k], f.invStd[k]
	var sumDy, sumDyXhat float64
	for i := 0; i < n; i++ {
		off := (i*c + k) * hw
		for j := 0; j < hw; j++ {
			d := float64(dy[off+j])
			sumDy += d
			sumDyXhat += d * (float64(x[off+j]) - mu) * is
		}
	}
	switch wrt {
	case 1:
		out[k] = T(sumDyXhat)
		return
	case 2:
		out[k] = T(sumDy)
		return
	}
	g := float64(gamma[k])
	for i := 0; i < n; i++ {
		off := (i*c + k) * hw
		for j := 0; j < hw; j++ {
			if f.usedBatch {
				xhat := (float64(x[off+j]) - mu) * is
				out[off+j] = T(g * is / m * (m*float64(dy[off+j]) - sumDy - xhat*sumDyXhat))
			} else {
				out[off+j] = T(g * is * float64(dy[off+j]))
			}
		}
	}
}
