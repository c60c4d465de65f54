// Package dnnl binds the few oneDNN (libdnnl, the CPU kernel library PyTorch uses) calls bnzoo needs — float32 2-D
// convolution forward, backward-data and backward-weights primitives over plain NCHW/OIHW buffers (grouped and
// depthwise too) — and holds bnzoo's own vectorised C loops for batch normalisation, tanh, ReLU, leaky ReLU, ELU
// and SiLU (kernels.go, relulike.go, bnz_kernels.c): oneDNN runs batch normalisation on plain NCHW buffers with a
// slow reference kernel, and its tanh is a few ulps off near ±1, where a saturated unit's derivative 1 − y² then
// comes out far too large.
//
// The bindings use cgo and are compiled only with the build tag dnnl (go build -tags dnnl), which needs a C
// compiler and Debian's libdnnl-dev (oneDNN 2.x, OpenMP runtime). Without the tag this package is empty and bnzoo
// runs its pure-Go kernels.
//
// All oneDNN calls run on one goroutine locked to one OS thread, so OpenMP keeps a single thread team, the
// primitives' thread count (OMP_NUM_THREADS when set, else GOMAXPROCS) is applied where the primitives are created
// and run, and no locking is needed around oneDNN's state. Go buffers are handed to oneDNN only for the duration of
// one call: cached memory objects hold no Go pointers between calls.
//
// Between oneDNN calls, OpenMP's idle threads spin by default, taking CPU from the Go code (BatchNorm,
// activations, the rest of the graph) that runs in between. OpenMP reads its wait policy when the process starts,
// so it cannot be changed from Go: run -tags dnnl binaries with OMP_WAIT_POLICY=passive (measured 1.2–1.5× faster
// end-to-end training on a busy 2-core machine).
package dnnl
