package layers

import (
	"fmt"
	"math"

	"github.com/bnzoo/bnzoo/internal/machine"
	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Fused evaluation: with Builder.Fuse set, an evaluation graph without taps builds each unit — convolution,
// BatchNorm on running statistics, activation — as one op that runs one oneDNN convolution with everything after
// it folded in, as PyTorch's frozen TorchScript models do:
//
//   - conventional, conv → BN → act: BN's per-channel scale s = γ/√(σ² + ε) is folded into the filter (w·s) and
//     its shift β − μ·s becomes the convolution's bias; the activation is an eltwise post-op. A residual block's
//     shortcut, added before the activation, is a sum post-op.
//   - swapped, conv → act → BN: the activation is a post-op and BN a per-channel multiply and add in bnzoo's own
//     loop over the convolution's output (oneDNN's binary post-ops for it cost 5× more); the shortcut is added by
//     a separate op (a sum post-op must come before the activation).
//
// The tanh family (tanh, LeCun tanh, shifted tanh) runs in bnzoo's own float32 loop after the convolution too,
// within a few ulps of tanh: oneDNN 2.6's AVX2 tanh gathers from a table, which costs 4 ns a value on AMD cores.
//   - conv → BN (projections): the folded bias alone, with a sum post-op for MobileNetV2's residual.
//
// A fused op whose output feeds only other fused ops leaves it in oneDNN's blocked layout (finishFused), so no
// reorder to NCHW and back happens between them. Only float32 in -tags dnnl builds fuses (fusedAccel32); the
// activations oneDNN has as post-ops (all but softsign) fuse, others build the unfused unit. Results differ from
// the unfused graph by float32 rounding (folding changes the order of operations; oneDNN's tanh is a few ulps off
// near ±1), bounded by TestFusedEvaluationMatchesUnfused. Training graphs, tapped graphs (the analysis needs the
// intermediate values) and float64 never fuse.

// fusedAccelerator runs fused convolutions; conv_kernels_dnnl.go installs oneDNN's.
type fusedAccelerator interface {
	blockChannels() int
	forward(s *fusedSpec, x, w, bias, scale, shift, res, y []float32) error
	maxPool(p *fusedPoolOp, x, y []float32) error
}

// layoutFlags say which of a fused op's tensors are in the blocked layout; Builder.Finish sets them.
type layoutFlags struct {
	inBlocked, outBlocked, resBlocked bool
}

// layoutOp is a fused op whose tensors can be blocked: a fused unit or a fused max-pool.
type layoutOp interface {
	// ids returns the graph IDs of the op's input and residual nodes (−1: none); its other inputs are parameters.
	ids() (in, res int64)
	outChannels() int
	layout() *layoutFlags
}

var fusedAccel32 fusedAccelerator

type postKind int

const (
	postEltwise postKind = iota + 1
	postSum
	postTanh   // outScale·tanh(alpha·x − beta) in bnzoo's own float32 loop, after oneDNN's post-ops
	postAffine // x·scale[k] + shift[k] per channel, in bnzoo's own loop, last
)

type eltwiseAlg int

const (
	eltRelu eltwiseAlg = iota + 1
	eltLogistic
	eltElu
	eltSwish
	eltGeluErf
	eltClip
)

// fusedPost is one post-op: outScale·alg(x) with alpha and beta as oneDNN defines them, the sum of the residual,
// or one of bnzoo's own (tanh, per-channel affine).
type fusedPost struct {
	kind        postKind
	alg         eltwiseAlg
	alpha, beta float64
	outScale    float64
}

// fusedSpec is a fused convolution: geometry (groups = channels for depthwise), layouts, bias and post-ops.
type fusedSpec struct {
	n, c, h, w, o, k, stride, pad, groups int
	ho, wo                                int
	layoutFlags
	bias  bool
	posts []fusedPost
}

// activationPosts returns act as eltwise post-ops, or false when oneDNN has no such post-op (softsign).
func activationPosts(act Activation) ([]fusedPost, bool) {
	e := func(alg eltwiseAlg, alpha, beta float64) fusedPost {
		return fusedPost{kind: postEltwise, alg: alg, alpha: alpha, beta: beta, outScale: 1}
	}
	switch act.Kind {
	case Identity:
		return nil, true
	case ReLU:
		return []fusedPost{e(eltRelu, 0, 0)}, true
	case LeakyReLU:
		return []fusedPost{e(eltRelu, act.Alpha, 0)}, true
	case Tanh:
		return []fusedPost{{kind: postTanh, alpha: 1, outScale: 1}}, true
	case LeCunTanh:
		return []fusedPost{{kind: postTanh, alpha: lecunSlope, outScale: lecunScale}}, true
	case ShiftedTanh:
		return []fusedPost{{kind: postTanh, alpha: 1, beta: act.Shift, outScale: 1}}, true
	case Sigmoid:
		return []fusedPost{e(eltLogistic, 0, 0)}, true
	case HardTanh:
		return []fusedPost{e(eltClip, -1, 1)}, true
	case ELU:
		return []fusedPost{e(eltElu, act.Alpha, 0)}, true
	case SiLU:
		return []fusedPost{e(eltSwish, 1, 0)}, true
	case GELU:
		return []fusedPost{e(eltGeluErf, 0, 0)}, true
	}
	return nil, false
}

// fusedRole is what a fused op folds after its convolution.
type fusedRole int

const (
	roleConventional fusedRole = iota // BN folded into the filter and bias, then the activation
	roleSwapped                       // the activation, then BN as a per-channel scale and shift
)

// fusedUnitOp is the op of a fused unit: inputs x, the filter, γ, β and, with a sum post-op, the residual.
type fusedUnitOp struct {
	opBase
	spec  fusedSpec
	role  fusedRole
	stats *BNStats
	phase *Phase
	// inID and resID are the graph IDs of the input and residual nodes (−1: none), for Builder.Finish; the
	// other inputs are parameters, which are never a unit's output.
	inID, resID int64

	wScaled, bias, scale, shift []float32 // per-call folded parameters
}

func (op *fusedUnitOp) ids() (in, res int64) { return op.inID, op.resID }
func (op *fusedUnitOp) outChannels() int     { return op.spec.o }
func (op *fusedUnitOp) layout() *layoutFlags { return &op.spec.layoutFlags }

func (op *fusedUnitOp) hasResidual() bool {
	for _, p := range op.spec.posts {
		if p.kind == postSum {
			return true
		}
	}
	return false
}

func (op *fusedUnitOp) Arity() int {
	if op.hasResidual() {
		return 5
	}
	return 4
}

func (op *fusedUnitOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	v := G.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	if op.hasResidual() {
		return hm.NewFnType(t, t, v, v, t, t)
	}
	return hm.NewFnType(t, t, v, v, t)
}

func (op *fusedUnitOp) outShape() tensor.Shape {
	return tensor.Shape{op.spec.n, op.spec.o, op.spec.ho, op.spec.wo}
}

func (op *fusedUnitOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }

func (op *fusedUnitOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled folds BatchNorm's running statistics into the convolution's parameters and runs it.
func (op *fusedUnitOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	if op.phase.Training() {
		return nil, fmt.Errorf("%s: a fused evaluation unit cannot run in training mode (build the graph with Fuse off)", op.name)
	}
	if fusedAccel32 == nil {
		return nil, fmt.Errorf("%s: a fused unit needs the fused kernels (removed by WithoutAccelerators?)", op.name)
	}
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("%s: %d inputs, want %d", op.name, len(in), op.Arity())
	}
	ts, err := denseInputs(op.name, in)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.Dtype() != tensor.Float32 || t.RequiresIterator() {
			return nil, fmt.Errorf("%s: inputs must be contiguous float32 tensors", op.name)
		}
	}
	x, w, gamma, beta := ts[0], ts[1], ts[2].Float32s(), ts[3].Float32s()
	s := &op.spec
	if x.Shape().TotalSize() != s.n*s.c*s.h*s.w || len(gamma) != s.o || len(beta) != s.o {
		return nil, fmt.Errorf("%s: input shapes %v, %v, %v differ from the graph's", op.name, x.Shape(), ts[2].Shape(), ts[3].Shape())
	}
	var res []float32
	if op.hasResidual() {
		res = ts[4].Float32s()
	}
	o := s.o
	if len(op.scale) != o {
		op.scale, op.shift = make([]float32, o), make([]float32, o)
	}
	wv := w.Float32s()
	conventional := op.role == roleConventional
	if conventional && len(op.wScaled) != len(wv) {
		op.wScaled = make([]float32, len(wv))
	}
	st, per := op.stats, len(wv)/o
	for k := 0; k < o; k++ {
		sc := float64(gamma[k]) / math.Sqrt(st.Var[k]+st.Eps)
		op.scale[k] = float32(sc)
		op.shift[k] = float32(float64(beta[k]) - st.Mean[k]*sc)
		if conventional { // BN folded into the filter: w·s per output channel
			for i := k * per; i < (k+1)*per; i++ {
				op.wScaled[i] = float32(float64(wv[i]) * sc)
			}
		}
	}
	// Conventional: conv(x, w·s) + (β − μ·s), the shift as the bias; swapped: conv(x, w), then the scale and
	// shift after the activation.
	wIn, bias, scale, shift := wv, []float32(nil), op.scale, op.shift
	if conventional {
		wIn, bias, scale, shift = op.wScaled, op.shift, nil, nil
	}
	y := outUninit(a, tensor.Float32, op.outShape()...)
	if err := fusedAccel32.forward(s, x.Float32s(), wIn, bias, scale, shift, res, y.Float32s()); err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	return y, nil
}

// fusedPoolOp is an evaluation max-pool (k×k, stride, no padding) that can read and write the blocked layout, so
// that VGG's pools between fused units need no reorders. It computes MaxPool2dOp's forward values (the maximum of
// each window; NaN aside, which only oneDNN's kernel propagates).
type fusedPoolOp struct {
	opBase
	n, c, h, w, k, stride int
	inID                  int64
	flags                 layoutFlags
}

func (op *fusedPoolOp) ids() (in, res int64) { return op.inID, -1 }
func (op *fusedPoolOp) outChannels() int     { return op.c }
func (op *fusedPoolOp) layout() *layoutFlags { return &op.flags }

func (op *fusedPoolOp) Arity() int { return 1 }
func (op *fusedPoolOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *fusedPoolOp) outShape() tensor.Shape {
	return tensor.Shape{op.n, op.c, (op.h-op.k)/op.stride + 1, (op.w-op.k)/op.stride + 1}
}
func (op *fusedPoolOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.outShape(), nil }
func (op *fusedPoolOp) Do(in ...G.Value) (G.Value, error)              { return op.DoPooled(nil, in...) }

// DoPooled runs the pool on the fused kernels.
func (op *fusedPoolOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	if fusedAccel32 == nil {
		return nil, fmt.Errorf("%s: a fused max-pool needs the fused kernels (removed by WithoutAccelerators?)", op.name)
	}
	if len(in) != 1 {
		return nil, fmt.Errorf("%s: %d inputs, want 1", op.name, len(in))
	}
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	if x.Dtype() != tensor.Float32 || x.RequiresIterator() || !x.Shape().Eq(tensor.Shape{op.n, op.c, op.h, op.w}) {
		return nil, fmt.Errorf("%s: input %v %v, want contiguous float32 %v", op.name, x.Dtype(), x.Shape(),
			tensor.Shape{op.n, op.c, op.h, op.w})
	}
	y := outUninit(a, tensor.Float32, op.outShape()...)
	if err := fusedAccel32.maxPool(op, x.Float32s(), y.Float32s()); err != nil {
		return nil, fmt.Errorf("%s: %w", op.name, err)
	}
	return y, nil
}
