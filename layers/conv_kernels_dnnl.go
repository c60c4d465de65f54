//go:build dnnl

package layers

// With -tags dnnl, float32 convolutions run on oneDNN (internal/dnnl: Debian's libdnnl, the library PyTorch's CPU
// convolutions use), on OMP_NUM_THREADS threads, else GOMAXPROCS. float64 convolutions still run the Go kernels
// in conv_kernels_go.go. oneDNN's results are not bit-identical to the Go kernels' (TestConv2dOpAcceleratorAgrees
// bounds the difference), nor guaranteed identical across thread counts.

import (
	"fmt"
	"math"

	"github.com/bnzoo/bnzoo/internal/dnnl"
)

func init() {
	convAccel32 = dnnlConv{}
	dwAccel32 = dnnlDepthwise{}
	eltAccel32 = cEltwise{}
	bnAccel32 = cBatchNorm{}
	fusedAccel32 = dnnlFused{}
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

// cEltwise runs float32 activations on bnzoo's vectorised C loops (internal/dnnl/bnz_kernels.c), ports of the Go
// kernels that give their bits. (oneDNN's eltwise tanh, used before, is a few ulps off near ±1; for a saturated
// unit 1 − y² is then orders of magnitude off, and in vgg16 swapped one such channel moved a layer's weight gradient
// by 1% against the float64 result.)
type cEltwise struct{}

// expConsts are fastExp's constants as Go rounds them, for the C ports of its loops.
var expConsts = [2]float64{expScale, math.Ln2 / 32}

func (cEltwise) tanh(x, y []float32, inScale, shift, outScale float64) error {
	return dnnl.Tanh(x, y, inScale, shift, outScale, &expTable, expConsts)
}
func (cEltwise) relu(x, y []float32) error { return dnnl.Relu(x, y) }
func (cEltwise) tanhGrad(y, dy, dx []float32, scale, prod float64) error {
	return dnnl.TanhBackward(y, dy, dx, scale, prod)
}
func (cEltwise) sigmoidGrad(y, dy, dx []float32) error { return dnnl.SigmoidBackward(y, dy, dx) }
func (cEltwise) reluGrad(y, dy, dx []float32) error    { return dnnl.ReluBackward(y, dy, dx) }
func (cEltwise) leakyRelu(x, y []float32, alpha float64) error {
	return dnnl.LeakyRelu(x, y, alpha)
}
func (cEltwise) leakyReluGrad(y, dy, dx []float32, alpha float64) error {
	return dnnl.LeakyReluBackward(y, dy, dx, alpha)
}
func (cEltwise) elu(x, y []float32, alpha float64) error {
	return dnnl.Elu(x, y, alpha, &expTable, expConsts)
}
func (cEltwise) eluGrad(x, dy, dx []float32, alpha float64) error {
	return dnnl.EluBackward(x, dy, dx, alpha, &expTable, expConsts)
}
func (cEltwise) silu(x, y []float32) error { return dnnl.Silu(x, y, &expTable, expConsts) }
func (cEltwise) siluGrad(x, dy, dx []float32) error {
	return dnnl.SiluBackward(x, dy, dx, &expTable, expConsts)
}

// cBatchNorm runs float32 batch normalisation on bnzoo's vectorised C loops (internal/dnnl/bnz_kernels.c): oneDNN
// 2.6's batch normalisation on plain NCHW buffers is a reference kernel, 1.85× slower than these loops
// (BenchmarkBatchNorm, forward and backward).
type cBatchNorm struct{}

func (cBatchNorm) forward(n, c, hw int, eps float32, x, gamma, beta, y []float32, mean, variance []float64) error {
	return dnnl.BatchNormForward(n, c, hw, eps, x, gamma, beta, y, mean, variance)
}

func (cBatchNorm) backward(n, c, hw int, eps float32, x []float32, mean, variance []float64, gamma, dy, dx, dgamma, dbeta []float32) error {
	return dnnl.BatchNormBackward(n, c, hw, eps, x, mean, variance, gamma, dy, dx, dgamma, dbeta)
}

func (cBatchNorm) normalise(n, c, hw int, x, y []float32, scale, shift []float64) error {
	return dnnl.Normalise(n, c, hw, x, y, scale, shift)
}

// dnnlFused runs fused evaluation units (fused_eval.go) as oneDNN convolutions with post-ops.
type dnnlFused struct{}

func (dnnlFused) blockChannels() int { return dnnl.BlockChannels() }

var eltwiseAlgs = map[eltwiseAlg]dnnl.Eltwise{eltRelu: dnnl.EltRelu, eltLogistic: dnnl.EltLogistic, eltElu: dnnl.EltElu, eltSwish: dnnl.EltSwish, eltGeluErf: dnnl.EltGeluErf,
	eltClip: dnnl.EltClip}

var postKinds = map[postKind]dnnl.PostKind{postEltwise: dnnl.PostEltwise, postSum: dnnl.PostSum,
	postTanh: dnnl.PostTanh, postAffine: dnnl.PostAffine}

func layoutOf(blocked bool) dnnl.Layout {
	if blocked {
		return dnnl.Blocked
	}
	return dnnl.Plain
}

func (dnnlFused) forward(s *fusedSpec, x, w, bias, scale, shift, res, y []float32) error {
	f := dnnl.FusedConv{Shape: dnnl.ConvShape{N: s.n, C: s.c, H: s.h, W: s.w, O: s.o, K: s.k, Stride: s.stride, Pad: s.pad,
		Groups: s.groups}, In: layoutOf(s.inBlocked), Out: layoutOf(s.outBlocked), Residual: layoutOf(s.resBlocked),
		Bias: s.bias, NPosts: len(s.posts)}
	if len(s.posts) > dnnl.MaxPosts {
		return fmt.Errorf("%d post-ops, at most %d", len(s.posts), dnnl.MaxPosts)
	}
	for i, p := range s.posts {
		f.Posts[i] = dnnl.Post{Kind: postKinds[p.kind], Alg: eltwiseAlgs[p.alg], Alpha: float32(p.alpha),
			Beta: float32(p.beta), OutScale: float32(p.outScale)}
	}
	return f.Forward(x, w, bias, scale, shift, res, y)
}

func (dnnlFused) maxPool(p *fusedPoolOp, x, y []float32) error {
	return dnnl.MaxPool{N: p.n, C: p.c, H: p.h, W: p.w, K: p.k, Stride: p.stride, In: layoutOf(p.flags.inBlocked),
		Out: layoutOf(p.flags.outBlocked)}.Forward(x, y)
}
