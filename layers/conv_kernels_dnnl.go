//go:build dnnl

package layers

// With -tags dnnl, float32 convolutions run on oneDNN (internal/dnnl: Debian's libdnnl, the library PyTorch's CPU
// convolutions use), on OMP_NUM_THREADS threads, else GOMAXPROCS. float64 convolutions still run the Go kernels
// in conv_kernels_go.go. oneDNN's results are not bit-identical to the Go kernels' (TestConv2dOpAcceleratorAgrees
// bounds the difference), nor guaranteed identical across thread counts.

import "github.com/bnzoo/bnzoo/internal/dnnl"

func init() {
	convAccel32 = dnnlConv{}
	dwAccel32 = dnnlDepthwise{}
	eltAccel32 = dnnlEltwise{}
	bnAccel32 = dnnlBatchNorm{}
}

type dnnlConv struct{}

func dnnlShape(g convGeom) dnnl.ConvShape {
	return dnnl.ConvShape{N: g.n, C: g.c, H: g.h, W: g.w, O: g.o, K: g.k, Stride: g.stride, Pad: g.pad}
}

func (dnnlConv) name() string { return dnnl.Version() }

func (dnnlConv) forward(g convGeom, x, w, y []float32) error {
	return dnnl.Forward(dnnlShape(g), x, w, y)
}

func (dnnlConv) gradInput(g convGeom, w, dy, dx []float32) error {
	return dnnl.BackwardData(dnnlShape(g), w, dy, dx)
}

func (dnnlConv) gradFilter(g convGeom, x, dy, dw []float32) error {
	return dnnl.BackwardWeights(dnnlShape(g), x, dy, dw)
}

// dnnlDepthwise runs depthwise convolutions as oneDNN grouped convolutions with groups = channels (the filter
// (C, 1, k, k) is oneDNN's goihw with G = C, O/G = I/G = 1, the same bytes).
type dnnlDepthwise struct{}

func dnnlDWShape(g dwGeom) dnnl.ConvShape {
	return dnnl.ConvShape{N: g.n, C: g.c, H: g.h, W: g.w, O: g.c, K: g.k, Stride: g.stride, Pad: g.pad, Groups: g.c}
}

func (dnnlDepthwise) forward(g dwGeom, x, w, y []float32) error {
	return dnnl.Forward(dnnlDWShape(g), x, w, y)
}

func (dnnlDepthwise) gradInput(g dwGeom, w, dy, dx []float32) error {
	return dnnl.BackwardData(dnnlDWShape(g), w, dy, dx)
}

func (dnnlDepthwise) gradFilter(g dwGeom, x, dy, dw []float32) error {
	return dnnl.BackwardWeights(dnnlDWShape(g), x, dy, dw)
}

// dnnlEltwise runs float32 tanh and sigmoid on oneDNN's vectorised eltwise kernels.
type dnnlEltwise struct{}

func (dnnlEltwise) tanh(x, y []float32) error    { return dnnl.Apply(dnnl.EltTanh, x, y) }
func (dnnlEltwise) sigmoid(x, y []float32) error { return dnnl.Apply(dnnl.EltLogistic, x, y) }
func (dnnlEltwise) tanhGrad(y, dy, dx []float32) error {
	return dnnl.ApplyBackward(dnnl.EltTanh, y, dy, dx)
}
func (dnnlEltwise) sigmoidGrad(y, dy, dx []float32) error {
	return dnnl.ApplyBackward(dnnl.EltLogistic, y, dy, dx)
}

// dnnlBatchNorm runs float32 batch normalisation with batch statistics on oneDNN.
type dnnlBatchNorm struct{}

func (dnnlBatchNorm) forward(n, c, hw int, eps float32, x, gamma, beta, y, mean, variance []float32) error {
	return dnnl.BatchNormForward(n, c, hw, eps, x, gamma, beta, y, mean, variance)
}

func (dnnlBatchNorm) backward(n, c, hw int, eps float32, x, mean, variance, gamma, dy, dx, dgamma, dbeta []float32) error {
	return dnnl.BatchNormBackward(n, c, hw, eps, x, mean, variance, gamma, dy, dx, dgamma, dbeta)
}
