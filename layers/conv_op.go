package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2dOp adds the convolution (cross-correlation, as PyTorch's nn.Conv2d(C, O, k, stride, pad, bias=False)
// computes it) of x (N, C, H, W) with the filter w (O, C, k, k), square stride and zero padding, to x's graph. The
// output is (N, O, Ho, Wo) with Ho = ⌊(H + 2·pad − k)/stride⌋ + 1 (likewise Wo).
//
// It replaces Gorgonia's Conv2d (im2col of the whole batch, a GEMM, then a materialised transpose to NCHW) by an op
// with its own forward and backward ops. The default build runs pure-Go kernels (per-image im2col into per-worker
// scratch and gonum GEMMs written straight into NCHW; see conv_kernels_go.go), parallel over images and bit-identical
// whatever GOMAXPROCS is. Built with -tags dnnl, float32 convolutions run on oneDNN (conv_kernels_dnnl.go); float64
// always runs the Go kernels. Shape and dtype mismatches are build-time errors.
func Conv2dOp(x, w *G.Node, stride, pad int) (*G.Node, error) {
	g, err := newConvGeom(x, w, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	y, err := G.ApplyOp(&convOp{opBase: newOpBase("conv2d"), g: g, inputGrad: true}, x, w)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	return y, nil
}

// Conv2dOpNoInputGrad is Conv2dOp for a layer whose input needs no gradient (a network's first layer, reading the
// data): its backward pass builds only the filter gradient. Gorgonia compiles and runs every node of the graph,
// so with Conv2dOp the first layer's input gradient would be computed at every step and never read. x cannot be
// differentiated through this op (G.Grad with respect to x, or to anything x depends on through it, fails).
func Conv2dOpNoInputGrad(x, w *G.Node, stride, pad int) (*G.Node, error) {
	g, err := newConvGeom(x, w, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	y, err := G.ApplyOp(&convOp{opBase: newOpBase("conv2d_no_input_grad"), g: g}, x, w)
	if err != nil {
		return nil, fmt.Errorf("conv2d: %w", err)
	}
	return y, nil
}

// ConvBackend names the kernels Conv2dOp runs for float32 ("go", or the oneDNN version in a -tags dnnl build).
// float64 always runs the Go kernels.
func ConvBackend() string {
	if convAccel32 == nil {
		return "go"
	}
	return convAccel32.name()
}

// convGeom is the fixed geometry of one convolution: input (n, c, h, w), filter (o, c, k, k), output (n, o, ho, wo).
type convGeom struct {
	n, c, h, w    int
	o, k          int
	stride, pad   int
	ho, wo        int
	inSize, outSz int // elements of one image's input (c·h·w) and output (o·ho·wo)
	ckk, hw, ohw  int // c·k·k, h·w, ho·wo
	flopsPerPass  float64
	pointwise     bool // 1×1, stride 1, no padding: an input plane is already the patch matrix
}

// newConvGeom validates the shapes and dtypes of x and w at graph-build time, so that a mismatch is a clear error
// rather than a panic inside the machine.
func newConvGeom(x, w *G.Node, stride, pad int) (convGeom, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 {
		return convGeom{}, fmt.Errorf("input must be (N, C, H, W), got shape %v", xs)
	}
	if len(ws) != 4 || ws[1] != xs[1] || ws[2] != ws[3] || ws[0] < 1 || ws[2] < 1 {
		return convGeom{}, fmt.Errorf("filter must be (O, C, k, k) with C = %d for input %v, got shape %v", xs[1], xs, ws)
	}
	if x.Dtype() != w.Dtype() || (x.Dtype() != tensor.Float32 && x.Dtype() != tensor.Float64) {
		return convGeom{}, fmt.Errorf("input and filter must both be float32 or both float64, got %v and %v", x.Dtype(), w.Dtype())
	}
	return makeConvGeom(xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], stride, pad)
}

// makeConvGeom checks and completes a geometry from its defining numbers.
func makeConvGeom(n, c, h, w, o, k, stride, pad int) (convGeom, error) {
	if n < 1 || c < 1 || h < 1 || w < 1 || o < 1 || k < 1 {
		return convGeom{}, fmt.Errorf("sizes must be positive: input (%d, %d, %d, %d), %d filters of %d×%d", n, c, h, w, o, k, k)
	}
	if stride < 1 || pad < 0 {
		return convGeom{}, fmt.Errorf("stride must be ≥ 1 and padding ≥ 0, got stride %d, padding %d", stride, pad)
	}
	if h+2*pad < k || w+2*pad < k {
		return convGeom{}, fmt.Errorf("kernel %d does not fit input %d×%d with padding %d", k, h, w, pad)
	}
	g := convGeom{n: n, c: c, h: h, w: w, o: o, k: k, stride: stride, pad: pad}
	g.ho = (h+2*pad-k)/stride + 1
	g.wo = (w+2*pad-k)/stride + 1
	g.hw, g.ohw, g.ckk = h*w, g.ho*g.wo, c*k*k
	g.inSize, g.outSz = c*g.hw, o*g.ohw
	g.flopsPerPass = 2 * float64(n) * float64(o) * float64(g.ckk) * float64(g.ohw)
	g.pointwise = k == 1 && stride == 1 && pad == 0
	return g, nil
}

func (g convGeom) inShape() tensor.Shape     { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g convGeom) filterShape() tensor.Shape { return tensor.Shape{g.o, g.c, g.k, g.k} }
func (g convGeom) outShape() tensor.Shape    { return tensor.Shape{g.n, g.o, g.ho, g.wo} }

// convAccelerator runs float32 convolutions outside Go. conv_kernels_dnnl.go installs oneDNN in -tags dnnl builds;
// in the default build convAccel32 stays nil and every convolution runs the Go kernels.
type convAccelerator interface {
	name() string
	forward(g convGeom, x, w, y []float32) error
	gradInput(g convGeom, w, dy, dx []float32) error
	gradFilter(g convGeom, x, dy, dw []float32) error
}

var convAccel32 convAccelerator

// convOp is the forward op (x, w) → y.
type convOp struct {
	opBase
	g         convGeom
	inputGrad bool // differentiate with respect to x too
}

func (op *convOp) Arity() int    { return 2 }
func (op *convOp) Type() hm.Type { return dwType() }
func (op *convOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.outShape(), nil
}

func (op *convOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *convOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, w, err := dwInputs(op.name, in, op.g.inShape(), op.g.filterShape())
	if err != nil {
		return nil, err
	}
	y := outMaybeUninit(a, convAccel32 != nil && x.Dtype() == tensor.Float32, x.Dtype(), op.g.outShape()...)
	switch {
	case x.Dtype() == tensor.Float64:
		convForward(op.g, x.Float64s(), w.Float64s(), y.Float64s())
	case convAccel32 != nil:
		if err := convAccel32.forward(op.g, x.Float32s(), w.Float32s(), y.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		convForward(op.g, x.Float32s(), w.Float32s(), y.Float32s())
	}
	return y, nil
}

func (op *convOp) DiffWRT(int) []bool { return []bool{op.inputGrad, true} }

// SymDiff returns dx = the transposed convolution of dy with w (nil without inputGrad), and dw = the correlation
// of x with dy summed over the batch.
func (op *convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	var dx *G.Node
	if op.inputGrad {
		var err error
		if dx, err = G.ApplyOp(&convGradInputOp{opBase: newOpBase("conv2d_grad_input"), g: op.g}, in[1], grad); err != nil {
			return nil, err
		}
	}
	dw, err := G.ApplyOp(&convGradFilterOp{opBase: newOpBase("conv2d_grad_filter"), g: op.g}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// convGradInputOp is the backward op (w, dy) → dx.
type convGradInputOp struct {
	opBase
	g convGeom
}

func (op *convGradInputOp) Arity() int    { return 2 }
func (op *convGradInputOp) Type() hm.Type { return dwType() }
func (op *convGradInputOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.inShape(), nil
}

func (op *convGradInputOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *convGradInputOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	w, dy, err := dwInputs(op.name, in, op.g.filterShape(), op.g.outShape())
	if err != nil {
		return nil, err
	}
	dx := outMaybeUninit(a, convAccel32 != nil && w.Dtype() == tensor.Float32, w.Dtype(), op.g.inShape()...)
	switch {
	case w.Dtype() == tensor.Float64:
		convGradInput(op.g, w.Float64s(), dy.Float64s(), dx.Float64s())
	case convAccel32 != nil:
		if err := convAccel32.gradInput(op.g, w.Float32s(), dy.Float32s(), dx.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		convGradInput(op.g, w.Float32s(), dy.Float32s(), dx.Float32s())
	}
	return dx, nil
}

// convGradFilterOp is the backward op (x, dy) → dw.
type convGradFilterOp struct {
	opBase
	g convGeom
}

func (op *convGradFilterOp) Arity() int    { return 2 }
func (op *convGradFilterOp) Type() hm.Type { return dwType() }
func (op *convGradFilterOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.filterShape(), nil
}

func (op *convGradFilterOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *convGradFilterOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, dy, err := dwInputs(op.name, in, op.g.inShape(), op.g.outShape())
	if err != nil {
		return nil, err
	}
	dw := outMaybeUninit(a, convAccel32 != nil && x.Dtype() == tensor.Float32, x.Dtype(), op.g.filterShape()...)
	switch {
	case x.Dtype() == tensor.Float64:
		convGradFilter(op.g, x.Float64s(), dy.Float64s(), dw.Float64s())
	case convAccel32 != nil:
		if err := convAccel32.gradFilter(op.g, x.Float32s(), dy.Float32s(), dw.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		convGradFilter(op.g, x.Float32s(), dy.Float32s(), dw.Float32s())
	}
	return dw, nil
}
