//go:build dnnl

package dnnl

/*
#include <oneapi/dnnl/dnnl.h>
#include "bnz_fused.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Layout is the memory order of an activation tensor handed to a fused convolution: bnzoo's plain NCHW, or
// oneDNN's blocked nChw8c/nChw16c (channels in blocks of BlockChannels, innermost), which a fused convolution's
// output can be left in when the next op is another fused convolution, saving the reorders to and from NCHW. A
// blocked tensor has the NCHW tensor's size when its channels are a multiple of BlockChannels.
type Layout int

const (
	Plain   Layout = iota // NCHW
	Blocked               // nChw8c or nChw16c (BlockChannels)
)

// BlockChannels is the channel block of the Blocked layout: 16 where oneDNN runs AVX-512 kernels, else 8 — the
// block its convolutions choose on this machine.
func BlockChannels() int {
	if C.dnnl_get_effective_cpu_isa() >= C.dnnl_cpu_isa_avx512_core {
		return 16
	}
	return 8
}

func (l Layout) tag() C.int {
	if l == Plain {
		return C.int(C.dnnl_nchw)
	}
	if BlockChannels() == 16 {
		return C.int(C.dnnl_nChw16c)
	}
	return C.int(C.dnnl_nChw8c)
}

// PostKind is the kind of one post-op of a fused convolution.
type PostKind int

const (
	PostEltwise PostKind = C.BNZ_POST_ELTWISE // an elementwise function of the running value
	PostScale   PostKind = C.BNZ_POST_SCALE   // multiply channel k by scale[k]
	PostShift   PostKind = C.BNZ_POST_SHIFT   // add shift[k] to channel k
	PostSum     PostKind = C.BNZ_POST_SUM     // add the residual tensor
	// PostAffine computes y·scale[k] + shift[k] per channel k after the convolution, in bnzoo's own loop (the
	// last post-op only; it takes the scale and shift buffers)
	PostAffine PostKind = C.BNZ_POST_AFFINE
	// PostTanh computes OutScale·tanh(Alpha·x − Beta) after every oneDNN post-op, before PostAffine, in bnzoo's
	// own float32 loop (oneDNN 2.6's AVX2 tanh is slow on AMD cores); within a few ulps of tanh.
	PostTanh PostKind = C.BNZ_POST_TANH
)

// Eltwise is a oneDNN elementwise function usable as a post-op (oneDNN's definitions, with Alpha and Beta).
type Eltwise int

const (
	EltRelu     Eltwise = C.dnnl_eltwise_relu     // x > 0 ? x : α·x
	EltTanh     Eltwise = C.dnnl_eltwise_tanh     // tanh(x)
	EltLinear   Eltwise = C.dnnl_eltwise_linear   // α·x + β
	EltLogistic Eltwise = C.dnnl_eltwise_logistic // 1/(1 + e^−x)
	EltElu      Eltwise = C.dnnl_eltwise_elu      // x > 0 ? x : α·(e^x − 1)
	EltSwish    Eltwise = C.dnnl_eltwise_swish    // x/(1 + e^−αx)
	EltGeluErf  Eltwise = C.dnnl_eltwise_gelu_erf // x·Φ(x)
	EltClip     Eltwise = C.dnnl_eltwise_clip     // min(max(x, α), β)
)

// Post is one post-op; Alg, Alpha, Beta and OutScale are for PostEltwise only: it computes OutScale·Alg(x) (an
// OutScale of 0 means 1).
type Post struct {
	Kind        PostKind
	Alg         Eltwise
	Alpha, Beta float32
	OutScale    float32
}

// MaxPosts is the most post-ops a FusedConv takes.
const MaxPosts = C.BNZ_MAX_POSTS

// FusedConv is an evaluation-mode convolution with everything that follows it folded in: y = posts(conv(x, w) +
// bias), the post-ops applied in order. It is comparable, and identifies its cached oneDNN primitive.
type FusedConv struct {
	Shape             ConvShape
	In, Out, Residual Layout // the layouts of x, y and the residual (for PostSum)
	Bias              bool
	NPosts            int
	Posts             [MaxPosts]Post
}

type fusedKey struct {
	f       FusedConv
	threads int
}

var fusedConvs = map[fusedKey]*C.bnz_fused{} // touched only on the oneDNN goroutine

func (f FusedConv) check() error {
	if err := f.Shape.check(); err != nil {
		return err
	}
	if f.NPosts < 0 || f.NPosts > MaxPosts {
		return fmt.Errorf("dnnl: fused convolution with %d post-ops (at most %d)", f.NPosts, MaxPosts)
	}
	// bnzoo's own post-ops (PostTanh, then PostAffine) run after oneDNN's, so they must come last.
	own := false
	for _, p := range f.Posts[:f.NPosts] {
		isOwn := p.Kind == PostTanh || p.Kind == PostAffine
		if own && !isOwn {
			return fmt.Errorf("dnnl: fused convolution with a oneDNN post-op after bnzoo's own")
		}
		own = own || isOwn
	}
	// oneDNN 2.6's JIT convolutions give two eltwise post-ops of the same function the first one's parameters
	// (linear(2/3) → tanh → linear(1.7159) multiplied by 2/3 again), so a chain may use each function once;
	// OutScale covers the cases that would need a second one.
	var seen [256]bool
	for _, p := range f.Posts[:f.NPosts] {
		if p.Kind != PostEltwise {
			continue
		}
		if a := int(p.Alg) & 0xff; seen[a] {
			return fmt.Errorf("dnnl: fused convolution with two %#x post-ops (oneDNN applies the first one's parameters to both)", int(p.Alg))
		} else {
			seen[a] = true
		}
	}
	for _, l := range []Layout{f.In, f.Out, f.Residual} {
		if l != Plain && l != Blocked {
			return fmt.Errorf("dnnl: unknown layout %d", l)
		}
	}
	b := BlockChannels()
	if (f.In == Blocked && f.Shape.C%b != 0) || ((f.Out == Blocked || f.Residual == Blocked) && f.Shape.O%b != 0) {
		return fmt.Errorf("dnnl: blocked layout needs channels that are multiples of %d: %+v", b, f.Shape)
	}
	return nil
}

func (f FusedConv) has(k PostKind) bool {
	for _, p := range f.Posts[:f.NPosts] {
		if p.Kind == k {
			return true
		}
	}
	return false
}

// primitive returns the cached primitive of f, creating it; it runs on the oneDNN goroutine.
func (f FusedConv) primitive() (*C.bnz_fused, error) {
	f.Shape.Groups = f.Shape.groups()
	key := fusedKey{f: f, threads: setThreads()}
	if p, ok := fusedConvs[key]; ok {
		return p, nil
	}
	s := f.Shape
	g := [9]C.int64_t{C.int64_t(s.N), C.int64_t(s.C), C.int64_t(s.H), C.int64_t(s.W), C.int64_t(s.O),
		C.int64_t(s.K), C.int64_t(s.Stride), C.int64_t(s.Pad), C.int64_t(s.Groups)}
	fmts := [3]C.int{f.In.tag(), f.Out.tag(), f.Residual.tag()}
	var posts [MaxPosts]C.bnz_post
	for i, p := range f.Posts[:f.NPosts] {
		scale := p.OutScale
		if scale == 0 {
			scale = 1
		}
		posts[i] = C.bnz_post{kind: C.int(p.Kind), alg: C.int(p.Alg), alpha: C.float(p.Alpha), beta: C.float(p.Beta),
			scale: C.float(scale)}
	}
	bias := C.int(0)
	if f.Bias {
		bias = 1
	}
	var p *C.bnz_fused
	var failed *C.char
	if st := C.bnz_fused_create(engine, &g[0], &fmts[0], bias, C.int(f.NPosts), &posts[0], &p, &failed); st != C.dnnl_success {
		return nil, fmt.Errorf("creating fused convolution %+v: %w", f, statusErr(C.GoString(failed), st))
	}
	fusedConvs[key] = p
	return p, nil
}

// optPtr passes a slice that may be empty to C (nil when empty).
func optPtr(s []float32) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}

// Forward computes y = posts(conv(x, w) + bias) with x, y and residual in f's layouts, w plain (O, C/groups, K,
// K), bias (O) when f.Bias, scale and shift (O) for the PostScale and PostShift post-ops and residual shaped like
// y for PostSum; unused buffers may be nil.
func (f FusedConv) Forward(x, w, bias, scale, shift, residual, y []float32) error {
	if err := f.check(); err != nil {
		return err
	}
	lx, lw, ly := f.Shape.sizes()
	o := f.Shape.O
	want := func(name string, b []float32, need bool, n int) error {
		if need && len(b) != n {
			return fmt.Errorf("dnnl: fused convolution %+v: %s has %d elements, want %d", f.Shape, name, len(b), n)
		}
		return nil
	}
	for _, c := range []error{want("x", x, true, lx), want("w", w, true, lw), want("y", y, true, ly),
		want("bias", bias, f.Bias, o), want("scale", scale, f.has(PostScale) || f.has(PostAffine), o),
		want("shift", shift, f.has(PostShift) || f.has(PostAffine), o), want("residual", residual, f.has(PostSum), ly)} {
		if c != nil {
			return c
		}
	}
	return do(func() error {
		p, err := f.primitive()
		if err != nil {
			return err
		}
		var failed *C.char
		st := C.bnz_fused_exec(p, stream, optPtr(x), optPtr(w), optPtr(bias), optPtr(scale), optPtr(shift),
			optPtr(residual), optPtr(y), &failed)
		runtime.KeepAlive(x)
		runtime.KeepAlive(w)
		runtime.KeepAlive(bias)
		runtime.KeepAlive(scale)
		runtime.KeepAlive(shift)
		runtime.KeepAlive(residual)
		runtime.KeepAlive(y)
		if st != C.dnnl_success {
			return fmt.Errorf("fused convolution %+v: %w", f.Shape, statusErr(C.GoString(failed), st))
		}
		return nil
	})
}

// Describe returns the oneDNN implementation of f and the layouts it runs on, creating it if needed.
func (f FusedConv) Describe() (string, error) {
	if err := f.check(); err != nil {
		return "", err
	}
	var out string
	err := do(func() error {
		p, err := f.primitive()
		if err != nil {
			return err
		}
		var buf [256]C.char
		C.bnz_fused_describe(p, &buf[0], C.size_t(len(buf)))
		out = C.GoString(&buf[0])
		return nil
	})
	return out, err
}

// MaxPool is an evaluation-mode k×k max-pool with the given stride and no padding over (N, C, H, W), its input
// and output each in a Layout (the output (N, C, ⌊(H − K)/Stride⌋ + 1, same for W), as layers' MaxPool2dOp).
type MaxPool struct {
	N, C, H, W, K, Stride int
	In, Out               Layout
}

type poolKey struct {
	p       MaxPool
	threads int
}

var pools = map[poolKey]*C.bnz_pool{} // touched only on the oneDNN goroutine

func (p MaxPool) sizes() (x, y int) {
	return p.N * p.C * p.H * p.W, p.N * p.C * ((p.H-p.K)/p.Stride + 1) * ((p.W-p.K)/p.Stride + 1)
}

// Forward writes the max-pool of x to y.
func (p MaxPool) Forward(x, y []float32) error {
	if p.N < 1 || p.C < 1 || p.K < 1 || p.Stride < 1 || p.H < p.K || p.W < p.K {
		return fmt.Errorf("dnnl: invalid max-pool %+v", p)
	}
	if b := BlockChannels(); (p.In == Blocked || p.Out == Blocked) && p.C%b != 0 {
		return fmt.Errorf("dnnl: blocked layout needs channels that are multiples of %d: %+v", b, p)
	}
	if lx, ly := p.sizes(); len(x) != lx || len(y) != ly {
		return fmt.Errorf("dnnl: max-pool %+v: buffers of %d and %d elements, want %d and %d", p, len(x), len(y), lx, ly)
	}
	return do(func() error {
		key := poolKey{p: p, threads: setThreads()}
		c, ok := pools[key]
		if !ok {
			g := [6]C.int64_t{C.int64_t(p.N), C.int64_t(p.C), C.int64_t(p.H), C.int64_t(p.W), C.int64_t(p.K), C.int64_t(p.Stride)}
			fmts := [2]C.int{p.In.tag(), p.Out.tag()}
			var failed *C.char
			if st := C.bnz_pool_create(engine, &g[0], &fmts[0], &c, &failed); st != C.dnnl_success {
				return fmt.Errorf("creating max-pool %+v: %w", p, statusErr(C.GoString(failed), st))
			}
			pools[key] = c
		}
		var failed *C.char
		st := C.bnz_pool_exec(c, stream, unsafe.Pointer(&x[0]), unsafe.Pointer(&y[0]), &failed)
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		if st != C.dnnl_success {
			return fmt.Errorf("max-pool %+v: %w", p, statusErr(C.GoString(failed), st))
		}
		return nil
	})
}
