package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"math/rand"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dropout adds inverted dropout with drop probability p: in training each element is kept with probability 1 − p
// and scaled by 1/(1 − p); in evaluation it is the identity. The mask comes from an RNG seeded from the store's
// seed, so runs repeat exactly. (Gorgonia's own Dropout seeds from the clock and scales its gradient by 1/p.)
func (b *Builder) Dropout(x *G.Node, p float64) (*G.Node, error) {
	if p < 0 || p >= 1 {
		return nil, fmt.Errorf("dropout: probability %v is not in [0, 1)", p)
	}
	op := &dropoutOp{opBase: newOpBase("dropout"), p: p, phase: b.Phase,
		rng: rand.New(rand.NewSource(b.Store.nextDropoutSeed()))}
	return G.ApplyOp(op, x)
}

type dropoutOp struct {
	opBase
	p     float64
	phase *Phase
	rng   *rand.Rand
	mask  []float64 // 0 or 1/(1−p) per element, from the last training pass; nil after an evaluation pass
}

func (op *dropoutOp) Arity() int { return 1 }
func (op *dropoutOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *dropoutOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *dropoutOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *dropoutOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	n := x.Shape().TotalSize()
	if !op.phase.Training() || op.p == 0 {
		op.mask = nil
		return x.Clone().(*tensor.Dense), nil
	}
	if len(op.mask) != n {
		op.mask = make([]float64, n)
	}
	scale := 1 / (1 - op.p)
	for i := range op.mask {
		if op.rng.Float64() < op.p {
			op.mask[i] = 0
		} else {
			op.mask[i] = scale
		}
	}
	y := outLike(a, x.Dtype(), x.Shape()...)
	switch x.Dtype() {
	case tensor.Float64:
		applyMask(x.Float64s(), y.Float64s(), op.mask)
	default:
		applyMask(x.Float32s(), y.Float32s(), op.mask)
	}
	return y, nil
}

func applyMask[T float](x, y []T, mask []float64) {
	for i, v := range x {
		y[i] = T(float64(v) * mask[i])
	}
}

func (op *dropoutOp) DiffWRT(int) []bool { return []bool{true} }

func (op *dropoutOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&dropoutGradOp{opBase: newOpBase("dropout_grad"), fwd: op}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// dropoutGradOp multiplies dy by the mask its forward op drew (dx = dy in evaluation).
type dropoutGradOp struct {
	opBase
	fwd *dropoutOp
}

func (op *dropoutGradOp) Arity() int { return 1 }
func (op *dropoutGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *dropoutGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}

func (op *dropoutGradOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *dropoutGradOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	dy, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	if op.fwd.mask == nil {
		return dy.Clone().(*tensor.Dense), nil
	}
	if len(op.fwd.mask) != dy.Shape().TotalSize() {
		return nil, fmt.Errorf("dropout backward: gradient of %d elements for a mask of %d", dy.Shape().TotalSize(), len(op.fwd.mask))
	}
	dx := outLike(a, dy.Dtype(), dy.Shape()...)
	switch dy.Dtype() {
	case tensor.Float64:
		applyMask(dy.Float64s(), dx.Float64s(), op.fwd.mask)
	default:
		applyMask(dy.Float32s(), dx.Float32s(), op.fwd.mask)
	}
	return dx, nil
}
