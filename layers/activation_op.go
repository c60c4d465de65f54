package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Apply adds y = f(x) to x's graph. Identity returns x itself. The op's backward pass reads y (x for softsign, ELU,
// SiLU and GELU, see gradFromInput), so only that one of the two stays alive until the backward pass has run.
func (a Activation) Apply(x *G.Node) (*G.Node, error) {
	if a.Kind == Identity {
		return x, nil
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	op := &activationOp{opBase: newOpBase("act." + a.String()), act: a}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("activation %s: %w", a, err)
	}
	return y, nil
}

// eltAccel32 computes float32 activations outside Go on large tensors. conv_kernels_dnnl.go installs bnzoo's
// vectorised C loops in -tags dnnl builds, which repeat the Go kernels' arithmetic operation for operation and so
// give their bits; in the default build it stays nil and the Go loops run.
var eltAccel32 eltAccelerator

type eltAccelerator interface {
	// tanh writes y = outScale·tanh(inScale·x − shift): tanh, shifted tanh and LeCun tanh (tanhSlice).
	tanh(x, y []float32, inScale, shift, outScale float64) error
	relu(x, y []float32) error
	// tanhGrad writes dx = float32(prod·(1 − (y/scale)²))·dy, with scale = prod = 1 meaning float32(1 − y²)·dy.
	tanhGrad(y, dy, dx []float32, scale, prod float64) error
	sigmoidGrad(y, dy, dx []float32) error
	// reluGrad writes dx = dy where y > 0 and +0 elsewhere.
	reluGrad(y, dy, dx []float32) error
	// The ReLU-like ones repeat relulike_kernels.go's loops; their backward passes read y for leaky ReLU and x for
	// ELU and SiLU, as activationBackward does. (GELU stays in Go: its erfc has no bit-identical C counterpart.)
	leakyRelu(x, y []float32, alpha float64) error
	leakyReluGrad(y, dy, dx []float32, alpha float64) error
	elu(x, y []float32, alpha float64) error
	eluGrad(x, dy, dx []float32, alpha float64) error
	silu(x, y []float32) error
	siluGrad(x, dy, dx []float32) error
}

// eltAccelMin is the element count from which eltAccel32 is used: below it a call's fixed cost dominates.
const eltAccelMin = 1 << 15

// accelForward runs y = f(x) on eltAccel32 and reports whether it could: tanh, shifted and LeCun tanh, ReLU, leaky
// ReLU, ELU and SiLU. (The logistic function's C port did not vectorise and ran slower than the Go loop, which
// therefore stays; GELU's erfc has no bit-identical C counterpart.)
func accelForward(a Activation, x, y []float32) (bool, error) {
	switch a.Kind {
	case Tanh:
		return true, eltAccel32.tanh(x, y, 1, 0, 1)
	case ShiftedTanh:
		return true, eltAccel32.tanh(x, y, 1, a.Shift, 1)
	case LeCunTanh:
		return true, eltAccel32.tanh(x, y, lecunSlope, 0, lecunScale)
	case ReLU:
		return true, eltAccel32.relu(x, y)
	case LeakyReLU:
		return true, eltAccel32.leakyRelu(x, y, a.Alpha)
	case ELU:
		return true, eltAccel32.elu(x, y, a.Alpha)
	case SiLU:
		return true, eltAccel32.silu(x, y)
	}
	return false, nil
}

// accelBackward runs activationBackward's float32 kinds on eltAccel32, from src (y, or x where gradFromInput), and
// reports whether it could.
func accelBackward(a Activation, src, dy, dx []float32) (bool, error) {
	switch a.Kind {
	case Tanh, ShiftedTanh:
		return true, eltAccel32.tanhGrad(src, dy, dx, 1, 1)
	case LeCunTanh:
		return true, eltAccel32.tanhGrad(src, dy, dx, lecunScale, lecunScale*lecunSlope)
	case Sigmoid:
		return true, eltAccel32.sigmoidGrad(src, dy, dx)
	case ReLU:
		return true, eltAccel32.reluGrad(src, dy, dx)
	case LeakyReLU:
		return true, eltAccel32.leakyReluGrad(src, dy, dx, a.Alpha)
	case ELU:
		return true, eltAccel32.eluGrad(src, dy, dx, a.Alpha)
	case SiLU:
		return true, eltAccel32.siluGrad(src, dy, dx)
	}
	return false, nil
}

// activationOp computes an elementwise activation in one pass over its input.
type activationOp struct {
	opBase
	act Activation
}

func (op *activationOp) Arity() int { return 1 }
func (op *activationOp) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(t, t)
}
func (op *activationOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *activationOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *activationOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	y := outUninit(a, x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		xs, ys := x.Float64s(), y.Float64s()
		parallelChunks(len(xs), func(lo, hi int) { activationForward(op.act, xs[lo:hi], ys[lo:hi]) })
	default:
		xs, ys := x.Float32s(), y.Float32s()
		if eltAccel32 != nil && len(xs) >= eltAccelMin {
			if ok, err := accelForward(op.act, xs, ys); err != nil {
				return nil, fmt.Errorf("%s: %w", op.name, err)
			} else if ok {
				return y, nil
			}
		}
		parallelChunks(len(xs), func(lo, hi int) { activationForward(op.act, xs[lo:hi], ys[lo:hi]) })
	}
	return y, nil
}

func (op *activationOp) DiffWRT(int) []bool { return []bool{true} }

func (op *activationOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	back := &activationGradOp{opBase: newOpBase("act_grad." + op.act.String()), act: op.act}
	src := out
	if op.act.gradFromInput() {
		src = in[0]
	}
	dx, err := G.ApplyOp(back, src, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// activationForward writes y = f(x). Float32 tensors use fastTanh and fastSigmoid (float32 results within one
// unit in the last place of the math package's, see fastmath.go); float64 tensors use the math package.
func activationForward[T float](a Activation, x, y []T) {
	var zero T
	_, f32 := any(zero).(float32)
	y = y[:len(x)]
	switch {
	case a.Kind == ReLU && f32:
		reluSlice32(any(x).([]float32), any(y).([]float32))
	case a.Kind == ReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = 0
			}
		}
	case a.Kind == Tanh && f32:
		tanhSlice(x, y, 1, 0, 1)
	case a.Kind == ShiftedTanh && f32:
		tanhSlice(x, y, 1, a.Shift, 1)
	case a.Kind == LeCunTanh && f32:
		tanhSlice(x, y, lecunSlope, 0, lecunScale)
	case a.Kind == Sigmoid && f32:
		sigmoidSlice(x, y)
	case a.Kind == Softsign:
		for i, v := range x {
			z := float64(v)
			y[i] = T(z / (1 + math.Abs(z)))
		}
	case a.Kind == LeakyReLU:
		leakyForward(a.Alpha, x, y)
	case a.Kind == ELU && f32:
		eluForward32(a.Alpha, any(x).([]float32), any(y).([]float32))
	case a.Kind == SiLU && f32:
		siluForward32(any(x).([]float32), any(y).([]float32))
	default: // float64 ELU and SiLU, GELU in both types, hardtanh
		for i, v := range x {
			y[i] = T(a.eval(float64(v)))
		}
	}
}

// activationGradOp computes dx = f'(x)·dy from (x, y, dy).
type activationGradOp struct {
	opBase
	act Activation
}

func (op *activationGradOp) Arity() int { return 2 }
func (op *activationGradOp) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(t, t, t)
}
func (op *activationGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *activationGradOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *activationGradOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	ts, err := denseInputs(op.name, in)
	if err != nil {
		return nil, err
	}
	dx := outUninit(a, ts[0].Dtype(), ts[0].Shape()...)
	switch dx.Dtype() {
	case tensor.Float64:
		src, dy, d := ts[0].Float64s(), ts[1].Float64s(), dx.Float64s()
		parallelChunks(len(d), func(lo, hi int) { activationBackward(op.act, src[lo:hi], dy[lo:hi], d[lo:hi]) })
	default:
		src, dy, d := ts[0].Float32s(), ts[1].Float32s(), dx.Float32s()
		if eltAccel32 != nil && len(d) >= eltAccelMin {
			if ok, err := accelBackward(op.act, src, dy, d); err != nil {
				return nil, fmt.Errorf("%s: %w", op.name, err)
			} else if ok {
				return dx, nil
			}
		}
		parallelChunks(len(d), func(lo, hi int) { activationBackward(op.act, src[lo:hi], dy[lo:hi], d[lo:hi]) })
	}
	return dx, nil
}

// activationBackward writes dx = f'(x)·dy, with f'(x) computed from src — the output y, or the input x where
// gradFromInput says so — in float64 and rounded to T, in a loop specialised per activation. ReLU, leaky ReLU and
// hardtanh read their derivative off y exactly (y > 0 ⟺ x > 0; −1 < y < 1 ⟺ −1 < x < 1).
func activationBackward[T float](a Activation, src, dy, dx []T) {
	src, dy = src[:len(dx)], dy[:len(dx)]
	switch a.Kind {
	case Tanh, ShiftedTanh:
		for i, v := range src {
			z := float64(v)
			dx[i] = T(1-z*z) * dy[i]
		}
	case LeCunTanh:
		for i, v := range src {
			t := float64(v) / lecunScale
			dx[i] = T(lecunScale*lecunSlope*(1-t*t)) * dy[i]
		}
	case Sigmoid:
		for i, v := range src {
			z := float64(v)
			dx[i] = T(z*(1-z)) * dy[i]
		}
	case ReLU:
		if y32, ok := any(src).([]float32); ok {
			reluGradSlice32(y32, any(dy).([]float32), any(dx).([]float32))
			return
		}
		for i, v := range src {
			d := T(0)
			if v > 0 {
				d = 1
			}
			dx[i] = d * dy[i]
		}
	case HardTanh:
		for i, v := range src {
			d := T(0)
			if v > -1 && v < 1 {
				d = 1
			}
			dx[i] = d * dy[i]
		}
	case Softsign:
		for i, v := range src {
			d := 1 + math.Abs(float64(v))
			dx[i] = T(1/(d*d)) * dy[i]
		}
	case LeakyReLU:
		leakyBackward(a.Alpha, src, dy, dx)
	case ELU:
		eluBackward(a.Alpha, src, dy, dx)
	case SiLU:
		siluBackward(src, dy, dx)
	case GELU:
		geluBackward(src, dy, dx)
	default: // identity (Apply adds no op for it)
		copy(dx, dy)
	}
}

// gradFromInput reports whether the activation's derivative is computed from its input rather than its output, which
// keeps x alive until the backward pass: softsign's 1/(1+|x|)² written in y, (1−|y|)², would lose float32 precision
// where |y| is near 1, as ELU's α·e^x written as y + α does where y is near −α; SiLU and GELU are not monotonic, so
// y does not determine x at all.
func (a Activation) gradFromInput() bool {
	switch a.Kind {
	case Softsign, ELU, SiLU, GELU:
		return true
	}
	return false
}
