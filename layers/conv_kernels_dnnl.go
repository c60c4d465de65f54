//go:build dnnl

package layers

// With -tags dnnl, float32 convolutions run on oneDNN (internal/dnnl: Debian's libdnnl, the library PyTorch's CPU
// convolutions use), on OMP_NUM_THREADS threads, else GOMAXPROCS. float64 convolutions still run the Go kernels
// in conv_kernels_go.go. oneDNN's results are not bit-identical to the Go kernels' (TestConv2dOpAcceleratorAgrees
// bounds the difference), nor guaranteed identical across thread counts.

import "github.com/bnzoo/bnzoo/internal/dnnl"

func init() { convAccel32 = dnnlConv{} }

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
