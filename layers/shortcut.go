package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SubsamplePad adds y = zero-pad_channels(x[:, :, ::stride, ::stride], pad on each side): the parameter-free
// "option A" shortcut of He et al. (2016). x is (N, C, H, W); y is (N, C + 2·pad, ⌈H/stride⌉, ⌈W/stride⌉).
func SubsamplePad(x *G.Node, stride, pad int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 || stride < 1 || pad < 0 {
		return nil, fmt.Errorf("subsample-pad: need an (N, C, H, W) input, stride ≥ 1 and pad ≥ 0; got %v, %d, %d", s, stride, pad)
	}
	return G.ApplyOp(&subsamplePadOp{opBase: newOpBase(fmt.Sprintf("subsample_pad(%d,%d)", stride, pad)), stride: stride, pad: pad}, x)
}

type subsamplePadOp struct {
	opBase
	stride, pad int
}

func (op *subsamplePadOp) Arity() int { return 1 }
func (op *subsamplePadOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *subsamplePadOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s := in[0].(tensor.Shape)
	if len(s) != 4 {
		return nil, fmt.Errorf("subsample-pad: input shape %v is not 4-D", s)
	}
	return tensor.Shape{s[0], s[1] + 2*op.pad, ceilDiv(s[2], op.stride), ceilDiv(s[3], op.stride)}, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (op *subsamplePadOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *subsamplePadOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	os, _ := op.InferShape(s)
	y := outLike(a, x.Dtype(), os...)
	switch x.Dtype() {
	case tensor.Float64:
		subsamplePad(x.Float64s(), y.Float64s(), s, os, op.stride, op.pad, false)
	default:
		subsamplePad(x.Float32s(), y.Float32s(), s, os, op.stride, op.pad, false)
	}
	return y, nil
}

// subsamplePad copies between the small (x) and the subsampled, padded (y) layout; backward copies y → x instead,
// into a zeroed x (each x element receives at most one y element).
func subsamplePad[T float](x, y []T, xs, ys tensor.Shape, stride, pad int, backward bool) {
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	yc, yh, yw := ys[1], ys[2], ys[3]
	for i := 0; i < n; i++ {
		for k := 0; k < c; k++ {
			for r := 0; r < yh; r++ {
				xo := ((i*c+k)*h + r*stride) * w
				yo := ((i*yc+k+pad)*yh + r) * yw
				for q := 0; q < yw; q++ {
					if backward {
						x[xo+q*stride] = y[yo+q]
					} else {
						y[yo+q] = x[xo+q*stride]
					}
				}
			}
		}
	}
}

func (op *subsamplePadOp) DiffWRT(int) []bool { return []bool{true} }

func (op *subsamplePadOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	back := &subsamplePadGradOp{opBase: newOpBase("subsample_pad_grad"), fwd: op, inShape: in[0].Shape().Clone()}
	dx, err := G.ApplyOp(back, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// subsamplePadGradOp scatters dy back to the sampled positions of x; the rest of dx is zero.
type subsamplePadGradOp struct {
	opBase
	fwd     *subsamplePadOp
	inShape tensor.Shape
}

func (op *subsamplePadGradOp) Arity() int { return 1 }
func (op *subsamplePadGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *subsamplePadGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.inShape.Clone(), nil
}

func (op *subsamplePadGradOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *subsamplePadGradOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	dy, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	dx := outLike(a, dy.Dtype(), op.inShape...)
	switch dy.Dtype() {
	case tensor.Float64:
		subsamplePad(dx.Float64s(), dy.Float64s(), op.inShape, dy.Shape(), op.fwd.stride, op.fwd.pad, true)
	default:
		subsamplePad(dx.Float32s(), dy.Float32s(), op.inShape, dy.Shape(), op.fwd.stride, op.fwd.pad, true)
	}
	return dx, nil
}
