package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// DepthwiseConv2d adds a depthwise convolution (groups = channels) of x (N, C, H, W) with filter w (C, 1, k, k),
// square stride and zero padding, to x's graph. The output is (N, C, Ho, Wo) with Ho = ⌊(H + 2·pad − k)/stride⌋ + 1
// (likewise Wo), as PyTorch's nn.Conv2d(C, C, k, stride, pad, groups=C) computes it.
//
// Gorgonia has no grouped convolution, and an im2col composite costs twice the time and memory, so this is a custom
// op with direct loops and its own backward ops for x and w. Work is split over (n, c) planes (or channels, for the
// filter gradient) so that every output element is computed by one goroutine in a fixed order: results are
// bit-identical whatever the scheduling and the number of cores. Built with -tags dnnl, float32 depthwise
// convolutions run on oneDNN instead (conv_kernels_dnnl.go), deterministic run to run at a fixed thread count.
func DepthwiseConv2d(x, w *G.Node, stride, pad int) (*G.Node, error) {
	g, err := newDWGeom(x, w, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("depthwise conv: %w", err)
	}
	y, err := G.ApplyOp(&depthwiseOp{opBase: newOpBase("depthwise_conv"), g: g}, x, w)
	if err != nil {
		return nil, fmt.Errorf("depthwise conv: %w", err)
	}
	return y, nil
}

// dwGeom is the fixed geometry of one depthwise convolution: input (n, c, h, w), filter (c, 1, k, k), output
// (n, c, ho, wo).
type dwGeom struct {
	n, c, h, w     int
	k, stride, pad int
	ho, wo         int
}

// newDWGeom validates the shapes and dtypes of x and w at graph-build time, so that a mismatch is a clear error
// rather than a panic inside the machine.
func newDWGeom(x, w *G.Node, stride, pad int) (dwGeom, error) {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 {
		return dwGeom{}, fmt.Errorf("input must be (N, C, H, W), got shape %v", xs)
	}
	if len(ws) != 4 || ws[0] != xs[1] || ws[1] != 1 || ws[2] != ws[3] || ws[2] < 1 {
		return dwGeom{}, fmt.Errorf("filter must be (C, 1, k, k) = (%d, 1, k, k) for input %v, got shape %v", xs[1], xs, ws)
	}
	if stride < 1 || pad < 0 {
		return dwGeom{}, fmt.Errorf("stride must be ≥ 1 and padding ≥ 0, got stride %d, padding %d", stride, pad)
	}
	if x.Dtype() != w.Dtype() || (x.Dtype() != tensor.Float32 && x.Dtype() != tensor.Float64) {
		return dwGeom{}, fmt.Errorf("input and filter must both be float32 or both float64, got %v and %v", x.Dtype(), w.Dtype())
	}
	g := dwGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], k: ws[2], stride: stride, pad: pad}
	if g.h+2*pad < g.k || g.w+2*pad < g.k {
		return dwGeom{}, fmt.Errorf("kernel %d does not fit input %v with padding %d", g.k, xs, pad)
	}
	g.ho = (g.h+2*pad-g.k)/stride + 1
	g.wo = (g.w+2*pad-g.k)/stride + 1
	return g, nil
}

func (g dwGeom) inShape() tensor.Shape     { return tensor.Shape{g.n, g.c, g.h, g.w} }
func (g dwGeom) filterShape() tensor.Shape { return tensor.Shape{g.c, 1, g.k, g.k} }
func (g dwGeom) outShape() tensor.Shape    { return tensor.Shape{g.n, g.c, g.ho, g.wo} }

// dwType is the type of all three depthwise ops: two 4-D tensors of one dtype to a 4-D tensor of that dtype.
func dwType() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}

// dwInputs checks the two runtime values of a depthwise op against the shapes fixed at build time and returns them
// as contiguous dense tensors of a common dtype.
func dwInputs(op string, in []G.Value, s0, s1 tensor.Shape) (*tensor.Dense, *tensor.Dense, error) {
	var ds [2]*tensor.Dense
	for i, want := range []tensor.Shape{s0, s1} {
		d, err := denseOf(op, in[i])
		if err != nil {
			return nil, nil, err
		}
		if !d.Shape().Eq(want) {
			return nil, nil, fmt.Errorf("%s: input %d has shape %v, the graph was built for %v", op, i, d.Shape(), want)
		}
		if d.RequiresIterator() { // a strided view: the kernels index the flat backing array
			m, ok := d.Materialize().(*tensor.Dense)
			if !ok {
				return nil, nil, fmt.Errorf("%s: cannot materialise input %d", op, i)
			}
			d = m
		}
		ds[i] = d
	}
	if ds[0].Dtype() != ds[1].Dtype() {
		return nil, nil, fmt.Errorf("%s: inputs have dtypes %v and %v", op, ds[0].Dtype(), ds[1].Dtype())
	}
	return ds[0], ds[1], nil
}

// dwAccelerator runs float32 depthwise convolutions outside Go. conv_kernels_dnnl.go installs oneDNN (a grouped
// convolution with groups = channels) in -tags dnnl builds; in the default build dwAccel32 stays nil and every
// depthwise convolution runs the Go kernels below, which stay the reference the accelerator is tested against.
type dwAccelerator interface {
	forward(g dwGeom, x, w, y []float32) error
	gradInput(g dwGeom, w, dy, dx []float32) error
	gradFilter(g dwGeom, x, dy, dw []float32) error
}

var dwAccel32 dwAccelerator

// depthwiseOp is the forward op (x, w) → y.
type depthwiseOp struct {
	opBase
	g dwGeom
}

func (op *depthwiseOp) Arity() int    { return 2 }
func (op *depthwiseOp) Type() hm.Type { return dwType() }
func (op *depthwiseOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.outShape(), nil
}

func (op *depthwiseOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *depthwiseOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, w, err := dwInputs(op.name, in, op.g.inShape(), op.g.filterShape())
	if err != nil {
		return nil, err
	}
	y := outMaybeUninit(a, dwAccel32 != nil && x.Dtype() == tensor.Float32, x.Dtype(), op.g.outShape()...)
	switch {
	case x.Dtype() == tensor.Float64:
		dwForward(op.g, x.Float64s(), w.Float64s(), y.Float64s())
	case dwAccel32 != nil:
		if err := dwAccel32.forward(op.g, x.Float32s(), w.Float32s(), y.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		dwForward(op.g, x.Float32s(), w.Float32s(), y.Float32s())
	}
	return y, nil
}

func (op *depthwiseOp) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff returns dx = the transposed depthwise convolution of dy with w, and dw = the per-channel correlation of
// x with dy.
func (op *depthwiseOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(&depthwiseGradInputOp{opBase: newOpBase("depthwise_conv_grad_input"), g: op.g}, in[1], grad)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(&depthwiseGradFilterOp{opBase: newOpBase("depthwise_conv_grad_filter"), g: op.g}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dw}, nil
}

// depthwiseGradInputOp is the backward op (w, dy) → dx.
type depthwiseGradInputOp struct {
	opBase
	g dwGeom
}

func (op *depthwiseGradInputOp) Arity() int    { return 2 }
func (op *depthwiseGradInputOp) Type() hm.Type { return dwType() }
func (op *depthwiseGradInputOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.inShape(), nil
}

func (op *depthwiseGradInputOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *depthwiseGradInputOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	w, dy, err := dwInputs(op.name, in, op.g.filterShape(), op.g.outShape())
	if err != nil {
		return nil, err
	}
	dx := outMaybeUninit(a, dwAccel32 != nil && w.Dtype() == tensor.Float32, w.Dtype(), op.g.inShape()...)
	switch {
	case w.Dtype() == tensor.Float64:
		dwGradInput(op.g, w.Float64s(), dy.Float64s(), dx.Float64s())
	case dwAccel32 != nil:
		if err := dwAccel32.gradInput(op.g, w.Float32s(), dy.Float32s(), dx.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		dwGradInput(op.g, w.Float32s(), dy.Float32s(), dx.Float32s())
	}
	return dx, nil
}

// depthwiseGradFilterOp is the backward op (x, dy) → dw.
type depthwiseGradFilterOp struct {
	opBase
	g dwGeom
}

func (op *depthwiseGradFilterOp) Arity() int    { return 2 }
func (op *depthwiseGradFilterOp) Type() hm.Type { return dwType() }
func (op *depthwiseGradFilterOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return op.g.filterShape(), nil
}

func (op *depthwiseGradFilterOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }

// DoPooled is Do with the output taken from a (from the heap when a is nil).
func (op *depthwiseGradFilterOp) DoPooled(a machine.Allocator, in ...G.Value) (G.Value, error) {
	x, dy, err := dwInputs(op.name, in, op.g.inShape(), op.g.outShape())
	if err != nil {
		return nil, err
	}
	dw := outMaybeUninit(a, dwAccel32 != nil && x.Dtype() == tensor.Float32, x.Dtype(), op.g.filterShape()...)
	switch {
	case x.Dtype() == tensor.Float64:
		dwGradFilter(op.g, x.Float64s(), dy.Float64s(), dw.Float64s())
	case dwAccel32 != nil:
		if err := dwAccel32.gradFilter(op.g, x.Float32s(), dy.Float32s(), dw.Float32s()); err != nil {
			return nil, fmt.Errorf("%s: %w", op.name, err)
		}
	default:
		dwGradFilter(op.g, x.Float32s(), dy.Float32s(), dw.Float32s())
	}
	return dw, nil
}

// padPlane copies the h×w plane src into dst, an (h+2q)×(w+2q) plane, with src[y, x] at dst[y+q, x+q] and zeros
// elsewhere. A negative q crops. Padding once per plane lets the kernels below run without any bounds tests.
func padPlane[T float](src []T, h, w, q int, dst []T) {
	pw := w + 2*q
	clear(dst)
	xLo, xHi := max(0, -q), min(w, w+q) // the columns of src that land in dst
	for y := max(0, -q); y < min(h, h+q); y++ {
		d := (y+q)*pw + xLo + q
		copy(dst[d:d+xHi-xLo], src[y*w+xLo:y*w+xHi])
	}
}

// dwForward computes y from x and w, one (n, c) plane per task.
func dwForward[T float](g dwGeom, x, w, y []T) {
	hw, ohw, kk := g.h*g.w, g.ho*g.wo, g.k*g.k
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(g.n*g.c, g.n*g.c*ohw*kk, func() func(int) {
		var buf []T
		return func(p int) {
			c := p % g.c
			in := x[p*hw : (p+1)*hw]
			if g.pad != 0 {
				buf = scratch(buf, ph*pw)
				padPlane(in, g.h, g.w, g.pad, buf)
				in = buf
			}
			correlateValid(in, pw, w[c*kk:(c+1)*kk], g.k, g.stride, y[p*ohw:(p+1)*ohw], g.ho, g.wo)
		}
	})
}

// dwGradInput computes dx from w and dy, one (n, c) plane per task. With stride 1 the transposed convolution is a
// correlation of dy, padded by k − 1 − pad, with the flipped filter: the forward kernel. With larger strides each dy
// element is scattered into a padded copy of the dx plane, which is then cropped into dx.
func dwGradInput[T float](g dwGeom, w, dy, dx []T) {
	hw, ohw, kk := g.h*g.w, g.ho*g.wo, g.k*g.k
	work := g.n * g.c * ohw * kk
	if g.stride == 1 {
		flipped := make([]T, len(w))
		for c := 0; c < g.c; c++ {
			for t := 0; t < kk; t++ {
				flipped[c*kk+t] = w[c*kk+kk-1-t]
			}
		}
		q := g.k - 1 - g.pad // negative when pad > k − 1: then the padding crops
		ph, pw := g.ho+2*q, g.wo+2*q
		parallelFor(g.n*g.c, work, func() func(int) {
			var buf []T
			return func(p int) {
				c := p % g.c
				in := dy[p*ohw : (p+1)*ohw]
				if q != 0 {
					buf = scratch(buf, ph*pw)
					padPlane(in, g.ho, g.wo, q, buf)
					in = buf
				}
				correlateValid(in, pw, flipped[c*kk:(c+1)*kk], g.k, 1, dx[p*hw:(p+1)*hw], g.h, g.w)
			}
		})
		return
	}
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(g.n*g.c, work, func() func(int) {
		var buf []T
		return func(p int) {
			c := p % g.c
			buf = scratch(buf, ph*pw)
			clear(buf)
			scatterValid(dy[p*ohw:(p+1)*ohw], g.ho, g.wo, w[c*kk:(c+1)*kk], g.k, g.stride, buf, pw)
			padPlane(buf, ph, pw, -g.pad, dx[p*hw:(p+1)*hw])
		}
	})
}

// dwGradFilter computes dw from x and dy, one channel per task: each task sums over the batch in a fixed order, so
// dw is deterministic. Each row of products is summed in T and the row sums in float64, so float32 gradients lose
// little over large batches.
func dwGradFilter[T float](g dwGeom, x, dy, dw []T) {
	hw, ohw, kk := g.h*g.w, g.ho*g.wo, g.k*g.k
	ph, pw := g.h+2*g.pad, g.w+2*g.pad
	parallelFor(g.c, g.n*g.c*ohw*kk, func() func(int) {
		var buf []T
		acc := make([]float64, kk)
		return func(c int) {
			clear(acc)
			for n := 0; n < g.n; n++ {
				p := n*g.c + c
				in := x[p*hw : (p+1)*hw]
				if g.pad != 0 {
					buf = scratch(buf, ph*pw)
					padPlane(in, g.h, g.w, g.pad, buf)
					in = buf
				}
				filterGradValid(in, pw, dy[p*ohw:(p+1)*ohw], g.ho, g.wo, g.k, g.stride, acc)
			}
			for t, v := range acc {
				dw[c*kk+t] = T(v)
			}
		}
	})
}

// correlateValid computes out[oy, ox] = Σ f[ky, kx]·in[oy·s + ky, ox·s + kx] for an oh×ow output, summing the taps
// row by row. in has rows of iw elements and must hold every window.
func correlateValid[T float](in []T, iw int, f []T, k, s int, out []T, oh, ow int) {
	for oy := 0; oy < oh; oy++ {
		r := oy * s * iw
		orow := out[oy*ow : (oy+1)*ow]
		if k == 3 {
			correlateRow3(in[r:r+iw], in[r+iw:r+2*iw], in[r+2*iw:r+3*iw], f, s, orow)
			continue
		}
		for ox := range orow {
			var acc T
			for ky := 0; ky < k; ky++ {
				base := r + ky*iw + ox*s
				win := in[base : base+k]
				for kx, fv := range f[ky*k : (ky+1)*k] {
					acc += fv * win[kx]
				}
			}
			orow[ox] = acc
		}
	}
}

// correlateRow3 is correlateValid's row for k = 3: out[j] reads columns j·s … j·s + 2 of rows r0, r1, r2. Each
// kernel row is summed on its own before the three are added, which shortens the chain of dependent additions.
func correlateRow3[T float](r0, r1, r2, f []T, s int, out []T) {
	f = f[:9]
	f00, f01, f02 := f[0], f[1], f[2]
	f10, f11, f12 := f[3], f[4], f[5]
	f20, f21, f22 := f[6], f[7], f[8]
	ix := 0
	for j := range out {
		a, b, c := r0[ix:ix+3:ix+3], r1[ix:ix+3:ix+3], r2[ix:ix+3:ix+3]
		out[j] = (a[0]*f00 + a[1]*f01 + a[2]*f02) +
			(b[0]*f10 + b[1]*f11 + b[2]*f12) +
			(c[0]*f20 + c[1]*f21 + c[2]*f22)
		ix += s
	}
}

// scatterValid adds f[ky, kx]·dy[oy, ox] into dx[oy·s + ky, ox·s + kx] for every output and tap, in raster order of
// dy: the transposed convolution for any stride. dx has rows of iw elements and must hold every window.
func scatterValid[T float](dy []T, oh, ow int, f []T, k, s int, dx []T, iw int) {
	for oy := 0; oy < oh; oy++ {
		r := oy * s * iw
		drow := dy[oy*ow : (oy+1)*ow]
		if k == 3 {
			scatterRow3(dx[r:r+iw], dx[r+iw:r+2*iw], dx[r+2*iw:r+3*iw], f, s, drow)
			continue
		}
		for ox, gv := range drow {
			for ky := 0; ky < k; ky++ {
				base := r + ky*iw + ox*s
				win := dx[base : base+k]
				for kx, fv := range f[ky*k : (ky+1)*k] {
					win[kx] += fv * gv
				}
			}
		}
	}
}

// scatterRow3 is scatterValid's row for k = 3: d[j] is added, weighted, into columns j·s … j·s + 2 of rows r0, r1,
// r2.
func scatterRow3[T float](r0, r1, r2, f []T, s int, d []T) {
	f = f[:9]
	f00, f01, f02 := f[0], f[1], f[2]
	f10, f11, f12 := f[3], f[4], f[5]
	f20, f21, f22 := f[6], f[7], f[8]
	ix := 0
	for _, gv := range d {
		a, b, c := r0[ix:ix+3:ix+3], r1[ix:ix+3:ix+3], r2[ix:ix+3:ix+3]
		a[0] += f00 * gv
		a[1] += f01 * gv
		a[2] += f02 * gv
		b[0] += f10 * gv
		b[1] += f11 * gv
		b[2] += f12 * gv
		c[0] += f20 * gv
		c[1] += f21 * gv
		c[2] += f22 * gv
		ix += s
	}
}

// filterGradValid adds Σ dy[oy, ox]·x[oy·s + ky, ox·s + kx] over one plane's outputs into acc[ky·k + kx], in float64.
// x has rows of iw elements and must hold every window.
func filterGradValid[T float](x []T, iw int, dy []T, oh, ow, k, s int, acc []float64) {
	for oy := 0; oy < oh; oy++ {
		r := oy * s * iw
		drow := dy[oy*ow : (oy+1)*ow]
		if k == 3 {
			filterGradRow3(x[r:r+iw], x[r+iw:r+2*iw], x[r+2*iw:r+3*iw], drow, s, acc)
			continue
		}
		for ox, gt := range drow {
			gv := float64(gt)
			for ky := 0; ky < k; ky++ {
				base := r + ky*iw + ox*s
				win := x[base : base+k]
				a := acc[ky*k : (ky+1)*k]
				for kx, xv := range win {
					a[kx] += gv * float64(xv)
				}
			}
		}
	}
}

// filterGradRow3 is filterGradValid's row for k = 3: d[j] pairs with columns j·s … j·s + 2 of rows r0, r1, r2. It
// sums the row in registers in T (a row is short, so float32 loses little), then adds the sums to acc in float64.
func filterGradRow3[T float](r0, r1, r2, d []T, s int, acc []float64) {
	var a0, a1, a2, a3, a4, a5, a6, a7, a8 T
	ix := 0
	for _, gv := range d {
		a, b, c := r0[ix:ix+3:ix+3], r1[ix:ix+3:ix+3], r2[ix:ix+3:ix+3]
		a0 += gv * a[0]
		a1 += gv * a[1]
		a2 += gv * a[2]
		a3 += gv * b[0]
		a4 += gv * b[1]
		a5 += gv * b[2]
		a6 += gv * c[0]
		a7 += gv * c[1]
		a8 += gv * c[2]
		ix += s
	}
	acc = acc[:9]
	acc[0] += float64(a0)
	acc[1] += float64(a1)
	acc[2] += float64(a2)
	acc[3] += float64(a3)
	acc[4] += float64(a4)
	acc[5] += float64(a5)
	acc[6] += float64(a6)
	acc[7] += float64(a7)
	acc[8] += float64(a8)
}
