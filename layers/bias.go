package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AddChannelBias adds y[n, c, ...] = x[n, c, ...] + b[c] to x's graph for an (N, C) or (N, C, H, W) input and a (C)
// bias. It replaces Gorgonia's broadcast add, whose gradient reduces over middle axes of 4-D tensors (a reduction
// Gorgonia gets wrong in some axis combinations).
func AddChannelBias(x, b *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 || b.Shape().TotalSize() != s[1] || len(b.Shape()) != 1 {
		return nil, fmt.Errorf("bias: input %v and bias %v do not match on axis 1", s, b.Shape())
	}
	return G.ApplyOp(&biasOp{opBase: newOpBase("bias")}, x, b)
}

type biasOp struct{ opBase }

func (op *biasOp) Arity() int { return 2 }
func (op *biasOp) Type() hm.Type {
	a, c := hm.TypeVariable('a'), hm.TypeVariable('c')
	return hm.NewFnType(a, c, a)
}
func (op *biasOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *biasOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *biasOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	b, err := denseOf(op.name, in[1])
	if err != nil {
		return nil, err
	}
	n, c, hw, err := channelGeometry(x.Shape())
	if err != nil {
		return nil, err
	}
	y := outLike(a, x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		biasForward(x.Float64s(), b.Float64s(), y.Float64s(), n, c, hw)
	default:
		biasForward(x.Float32s(), b.Float32s(), y.Float32s(), n, c, hw)
	}
	return y, nil
}

func biasForward[T float](x, b, y []T, n, c, hw int) {
	for i := 0; i < n; i++ {
		for k := 0; k < c; k++ {
			off := (i*c + k) * hw
			bk := b[k]
			for j, v := range x[off : off+hw] {
				y[off+j] = v + bk
			}
		}
	}
}

func (op *biasOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *biasOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	db, err := G.ApplyOp(&channelSumOp{opBase: newOpBase("channel_sum"), dims: grad.Dims()}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{grad, db}, nil
}

// channelSumOp reduces an (N, C, ...) tensor to (C) by summing over every axis but 1.
type channelSumOp struct {
	opBase
	dims int // of the input
}

func (op *channelSumOp) Arity() int { return 1 }
func (op *channelSumOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.dims, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op *channelSumOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	if len(s) < 2 {
		return nil, fmt.Errorf("channel sum: input shape %v has no channel axis", s)
	}
	return tensor.Shape{s[1]}, nil
}

func (op *channelSumOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *channelSumOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	n, c, hw, err := channelGeometry(x.Shape())
	if err != nil {
		return nil, err
	}
	out := outLike(a, x.Dtype(), c)
	switch x.Dtype() {
	case tensor.Float64:
		channelSum(x.Float64s(), out.Float64s(), n, c, hw)
	default:
		channelSum(x.Float32s(), out.Float32s(), n, c, hw)
	}
	return out, nil
}

func channelSum[T float](x, out []T, n, c, hw int) {
	for k := 0; k < c; k++ {
		var s float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+k)*hw : (i*c+k+1)*hw] {
				s += float64(v)
			}
		}
		out[k] = T(s)
	}
}
