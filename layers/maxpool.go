package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2dOp adds a k×k max-pool with the given stride and zero padding on every side to x's graph. It computes
// what Gorgonia's MaxPool2D does, faster and in parallel over the N·C planes:
//   - the output is (N, C, ⌊(H + 2·pad − k)/stride⌋ + 1, same for W): trailing rows or columns that do not fill a
//     window are dropped;
//   - padding takes no part in the maximum (windows are clipped to the input);
//   - each output is the first strictly greatest value of its window in row-major order, starting from
//     −MaxFloat (so NaNs are skipped, and a window of only NaN or −Inf gives −MaxFloat);
//   - the gradient goes to that one input element, and adds up where windows overlap.
//
// Where every window holds a value above −MaxFloat — always in practice — the gradient is Gorgonia's too; where
// none does, Gorgonia's backward pass indexes out of range, this one sends the gradient to the window's first element.
func MaxPool2dOp(x *G.Node, k, stride, pad int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("max-pool: input must be (N, C, H, W), got %v", s)
	}
	if k < 1 || stride < 1 || pad < 0 || s[2]+2*pad < k || s[3]+2*pad < k {
		return nil, fmt.Errorf("max-pool: kernel %d, stride %d, padding %d do not fit input %v", k, stride, pad, s)
	}
	op := &maxPoolOp{opBase: newOpBase("maxpool"), k: k, stride: stride, pad: pad}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("max-pool: %w", err)
	}
	return y, nil
}

// maxPoolOp is the forward op. It records, for each output element, the index within its input plane of the
// element it took, for its backward op, which always runs after it within one pass of the machine.
type maxPoolOp struct {
	opBase
	k, stride, pad int

	argmax  []int32 // per output element, from the last forward pass (scratch reused across passes)
	inShape [4]int  // of the last forward pass
	pass    uint64  // counts forward passes
}

func (op *maxPoolOp) outSize(h, w int) (oh, ow int) {
	return (h+2*op.pad-op.k)/op.stride + 1, (w+2*op.pad-op.k)/op.stride + 1
}

func (op *maxPoolOp) Arity() int { return 1 }
func (op *maxPoolOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *maxPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || len(s) != 4 {
		return nil, fmt.Errorf("max-pool: expected a 4-D shape, got %v", in[0])
	}
	oh, ow := op.outSize(s[2], s[3])
	return tensor.Shape{s[0], s[1], oh, ow}, nil
}

func (op *maxPoolOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *maxPoolOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("max-pool: expected a 4-D input, got shape %v", s)
	}
	n, c, h, w := s[0], s[1], s[2], s[3]
	oh, ow := op.outSize(h, w)
	y := outUninit(a, x.Dtype(), n, c, oh, ow) // every output element is written
	op.argmax = scratchInt32(op.argmax, n*c*oh*ow)
	op.inShape = [4]int{n, c, h, w}
	op.pass++
	switch x.Dtype() {
	case tensor.Float64:
		op.forward64(x.Float64s(), y.Float64s(), n*c, h, w, oh, ow)
	default:
		op.forward32(x.Float32s(), y.Float32s(), n*c, h, w, oh, ow)
	}
	return y, nil
}

func (op *maxPoolOp) forward32(x, y []float32, planes, h, w, oh, ow int) {
	parallelFor(planes, planes*oh*ow*op.k*op.k, func() func(int) {
		return func(p int) {
			maxPoolPlane(x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], op.argmax[p*oh*ow:(p+1)*oh*ow],
				h, w, oh, ow, op.k, op.stride, op.pad, -math.MaxFloat32)
		}
	})
}

func (op *maxPoolOp) forward64(x, y []float64, planes, h, w, oh, ow int) {
	parallelFor(planes, planes*oh*ow*op.k*op.k, func() func(int) {
		return func(p int) {
			maxPoolPlane(x[p*h*w:(p+1)*h*w], y[p*oh*ow:(p+1)*oh*ow], op.argmax[p*oh*ow:(p+1)*oh*ow],
				h, w, oh, ow, op.k, op.stride, op.pad, -math.MaxFloat64)
		}
	})
}

// maxPoolPlane pools one (h, w) plane into (oh, ow), recording each output's source index in idx. lowest is
// −MaxFloat of T, the starting value of every window's maximum.
func maxPoolPlane[T float](x, y []T, idx []int32, h, w, oh, ow, k, stride, pad int, lowest T) {
	if k == 2 && stride == 2 && pad == 0 {
		// The common case, unrolled: rows 2i and 2i+1 of the input make row i of the output.
		for i := 0; i < oh; i++ {
			r0, r1 := x[2*i*w:2*i*w+w], x[(2*i+1)*w:(2*i+1)*w+w]
			yr, ir := y[i*ow:(i+1)*ow], idx[i*ow:(i+1)*ow]
			base := int32(2 * i * w)
			for j := range yr {
				a, b, c, d := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
				// Branch-free: the maximum by the builtin max, then the first element equal to it, chosen by
				// conditional moves (data-dependent branches mispredict about once per window). This is the
				// first strict maximum unless max saw a NaN (which it propagates), a zero (max(−0, +0) = +0
				// whatever the order) or nothing above lowest: those rare windows take the sequential code below.
				if m := max(a, b, c, d, lowest); m == m && m != 0 && m != lowest {
					at := base + int32(w+2*j+1)
					if c == m {
						at = base + int32(w+2*j)
					}
					if b == m {
						at = base + int32(2*j+1)
					}
					if a == m {
						at = base + int32(2*j)
					}
					yr[j], ir[j] = m, at
					continue
				}
				best, at := lowest, base+int32(2*j)
				if v := r0[2*j]; v > best {
					best = v
				}
				if v := r0[2*j+1]; v > best {
					best, at = v, base+int32(2*j+1)
				}
				if v := r1[2*j]; v > best {
					best, at = v, base+int32(w+2*j)
				}
				if v := r1[2*j+1]; v > best {
					best, at = v, base+int32(w+2*j+1)
				}
				yr[j], ir[j] = best, at
			}
		}
		return
	}
	for i := 0; i < oh; i++ {
		h0, h1 := max(i*stride-pad, 0), min(i*stride-pad+k, h)
		for j := 0; j < ow; j++ {
			w0, w1 := max(j*stride-pad, 0), min(j*stride-pad+k, w)
			best, at := lowest, int32(h0*w+w0)
			for r := h0; r < h1; r++ {
				for q := w0; q < w1; q++ {
					if v := x[r*w+q]; v > best {
						best, at = v, int32(r*w+q)
					}
				}
			}
			y[i*ow+j], idx[i*ow+j] = best, at
		}
	}
}

// scratchInt32 returns buf resized to n elements, reallocating only when it is too small.
func scratchInt32(buf []int32, n int) []int32 {
	if cap(buf) < n {
		return make([]int32, n)
	}
	return buf[:n]
}

func (op *maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *maxPoolOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	back := &maxPoolGradOp{opBase: newOpBase("maxpool_grad"), fwd: op, inShape: in[0].Shape().Clone()}
	dx, err := G.ApplyOp(back, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx}, nil
}

// maxPoolGradOp computes dx from dy by sending each output's gradient to the input element its forward op took.
// It needs neither x nor y, so neither is kept alive for it.
type maxPoolGradOp struct {
	opBase
	fwd     *maxPoolOp
	inShape tensor.Shape
}

func (op *maxPoolGradOp) Arity() int { return 1 }
func (op *maxPoolGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *maxPoolGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.inShape.Clone(), nil
}

func (op *maxPoolGradOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *maxPoolGradOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	dy, err := denseOf(op.name, in[0])
	if err != nil {
		return nil, err
	}
	f := op.fwd
	s := op.inShape
	n, c, h, w := s[0], s[1], s[2], s[3]
	oh, ow := f.outSize(h, w)
	if f.pass == 0 || f.inShape != [4]int{n, c, h, w} || !dy.Shape().Eq(tensor.Shape{n, c, oh, ow}) {
		return nil, fmt.Errorf("%s: backward pass without a matching forward pass", op.name)
	}
	if f.k == 2 && f.stride == 2 && f.pad == 0 {
		// Windows that neither overlap nor leave gaps: dx is written once, window by window, without zeroing it
		// first and scattering into it.
		dx := outUninit(a, dy.Dtype(), n, c, h, w)
		switch dy.Dtype() {
		case tensor.Float64:
			maxPoolBackward2x2(dy.Float64s(), dx.Float64s(), f.argmax, n*c, h, w, oh, ow)
		default:
			maxPoolBackward2x2(dy.Float32s(), dx.Float32s(), f.argmax, n*c, h, w, oh, ow)
		}
		return dx, nil
	}
	dx := outLike(a, dy.Dtype(), n, c, h, w)
	switch dy.Dtype() {
	case tensor.Float64:
		maxPoolBackward(dy.Float64s(), dx.Float64s(), f.argmax, n*c, h*w, oh*ow)
	default:
		maxPoolBackward(dy.Float32s(), dx.Float32s(), f.argmax, n*c, h*w, oh*ow)
	}
	return dx, nil
}

// maxPoolBackward2x2 is maxPoolBackward for 2×2 windows with stride 2 and no padding, writing every element of dx:
// each window gets its dy at the recorded index (added to zero, so a −0 becomes +0 exactly as the scatter makes it)
// and zeros elsewhere; the rows and columns no window covers (odd h or w) are zeroed.
func maxPoolBackward2x2[T float](dy, dx []T, idx []int32, planes, h, w, oh, ow int) {
	parallelFor(planes, planes*h*w, func() func(int) {
		return func(p int) {
			d, g, ix := dx[p*h*w:(p+1)*h*w], dy[p*oh*ow:(p+1)*oh*ow], idx[p*oh*ow:(p+1)*oh*ow]
			var zero T
			for i := 0; i < oh; i++ {
				r0, r1 := d[2*i*w:2*i*w+w], d[(2*i+1)*w:(2*i+1)*w+w]
				for j := 0; j < ow; j++ {
					r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1] = 0, 0, 0, 0
					d[ix[i*ow+j]] = zero + g[i*ow+j]
				}
				clear(r0[2*ow:])
				clear(r1[2*ow:])
			}
			clear(d[2*oh*w:])
		}
	})
}

// maxPoolBackward adds each dy element into dx at its recorded index, plane by plane in parallel; within a plane
// the order is fixed, so overlapping windows give the same sums every time. dx must be zero.
func maxPoolBackward[T float](dy, dx []T, idx []int32, planes, hw, ohw int) {
	parallelFor(planes, planes*ohw, func() func(int) {
		return func(p int) {
			d, g, ix := dx[p*hw:(p+1)*hw], dy[p*ohw:(p+1)*ohw], idx[p*ohw:(p+1)*ohw]
			for o, v := range g {
				d[ix[o]] += v
			}
		}
	})
}
