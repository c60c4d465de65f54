package layers

import (
	"fmt"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Apply adds y = f(x) to x's graph. Identity returns x itself. The op's backward pass uses x and y, so both stay
// alive until the backward pass has run.
func (a Activation) Apply(x *G.Node) (*G.Node, error) {
	if a.Kind == Identity {
		return x, nil
	}
	op := &activationOp{opBase: newOpBase("act." + a.String()), act: a}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("activation %s: %w", a, err)
	}
	return y, nil
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

func (op *activationOp) Do(in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	y := newLike(x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		xs, ys := x.Float64s(), y.Float64s()
		parallelChunks(len(xs), func(lo, hi int) { activationForward(op.act, xs[lo:hi], ys[lo:hi]) })
	default:
		xs, ys := x.Float32s(), y.Float32s()
		parallelChunks(len(xs), func(lo, hi int) { activationForward(op.act, xs[lo:hi], ys[lo:hi]) })
	}
	return y, nil
}

func (op *activationOp) DiffWRT(int) []bool { return []bool{true} }

func (op *activationOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	back := &activationGradOp{opBase: newOpBase("act_grad." + op.act.String()), act: op.act}
	dx, err := G.ApplyOp(back, in[0], out, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

func activationForward[T float](a Activation, x, y []T) {
	switch a.Kind {
	case ReLU:
		for i, v := range x {
			if v > 0 {
				y[i] = v
			} else {
				y[i] = 0
			}
		}
	default:
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

func (op *activationGradOp) Arity() int { return 3 }
func (op *activationGradOp) Type() hm.Type {
	t := hm.TypeVariable('a')
	return hm.NewFnType(t, t, t, t)
}
func (op *activationGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *activationGradOp) Do(in ...G.Value) (G.Value, error) {
	ts, err := denseInputs(op.name, in)
	if err != nil {
		return nil, err
	}
	dx := newLike(ts[0].Dtype(), ts[0].Shape()...)
	switch dx.Dtype() {
	case tensor.Float64:
		x, y, dy, d := ts[0].Float64s(), ts[1].Float64s(), ts[2].Float64s(), dx.Float64s()
		parallelChunks(len(d), func(lo, hi int) { activationBackward(op.act, x[lo:hi], y[lo:hi], dy[lo:hi], d[lo:hi]) })
	default:
		x, y, dy, d := ts[0].Float32s(), ts[1].Float32s(), ts[2].Float32s(), dx.Float32s()
		parallelChunks(len(d), func(lo, hi int) { activationBackward(op.act, x[lo:hi], y[lo:hi], dy[lo:hi], d[lo:hi]) })
	}
	return dx, nil
}

func activationBackward[T float](a Activation, x, y, dy, dx []T) {
	for i := range dx {
		dx[i] = T(a.deriv(float64(x[i]), float64(y[i]))) * dy[i]
	}
}
