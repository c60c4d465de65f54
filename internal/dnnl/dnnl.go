//go:build dnnl

package dnnl

/*
#cgo LDFLAGS: -ldnnl -lgomp
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include "bnz_dnnl.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// ConvShape is the geometry of one convolution: input (N, C, H, W), O filters of K×K, square stride and zero
// padding; output (N, O, Ho, Wo) with Ho = (H + 2·Pad − K)/Stride + 1. Groups > 1 makes it a grouped convolution
// (C and O multiples of Groups; filter (O, C/Groups, K, K)); Groups = C = O is a depthwise convolution. Groups 0
// and 1 both mean an ordinary convolution.
type ConvShape struct {
	N, C, H, W, O, K, Stride, Pad int
	Groups                        int
}

func (s ConvShape) groups() int { return max(1, s.Groups) }

// Out returns the output's spatial size.
func (s ConvShape) Out() (ho, wo int) {
	return (s.H+2*s.Pad-s.K)/s.Stride + 1, (s.W+2*s.Pad-s.K)/s.Stride + 1
}

func (s ConvShape) check() error {
	if s.N < 1 || s.C < 1 || s.H < 1 || s.W < 1 || s.O < 1 || s.K < 1 || s.Stride < 1 || s.Pad < 0 ||
		s.H+2*s.Pad < s.K || s.W+2*s.Pad < s.K || s.Groups < 0 || s.C%s.groups() != 0 || s.O%s.groups() != 0 {
		return fmt.Errorf("dnnl: invalid convolution %+v", s)
	}
	return nil
}

// sizes returns the element counts of the input, filter and output.
func (s ConvShape) sizes() (x, w, y int) {
	ho, wo := s.Out()
	return s.N * s.C * s.H * s.W, s.O * (s.C / s.groups()) * s.K * s.K, s.N * s.O * ho * wo
}

// Error is a failed oneDNN call.
type Error struct {
	Call   string // the C function that failed
	Status int    // its dnnl_status_t
}

func (e *Error) Error() string {
	return fmt.Sprintf("dnnl: %s failed: %s", e.Call, C.GoString(C.dnnl_status2str(C.dnnl_status_t(e.Status))))
}

func statusErr(call string, st C.dnnl_status_t) error {
	if st == C.dnnl_success {
		return nil
	}
	return &Error{Call: call, Status: int(st)}
}

// PlainLayouts makes convolutions created from now on run on plain nchw/oihw layouts instead of the layouts their
// kernels prefer (which need reorders from and to the caller's buffers). It exists to measure that choice;
// pointwise convolutions run plain whatever it says (plainFor).
var PlainLayouts = false

type convKey struct {
	s       ConvShape
	threads int
	plain   bool
}

// The oneDNN goroutine. Everything below the channel is touched only by it.
var (
	startOnce sync.Once
	startErr  error
	calls     chan func()

	engine    C.dnnl_engine_t
	stream    C.dnnl_stream_t
	convs     = map[convKey]*C.bnz_conv{}
	ompThread int // the thread count last given to omp_set_num_threads, 0 if never
)

// start launches the goroutine that makes every oneDNN call, locked to one OS thread: OpenMP keeps one thread team
// per calling thread, so calls from whichever thread a goroutine happens to run on would each grow their own team.
func start() error {
	startOnce.Do(func() {
		calls = make(chan func())
		ready := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: this goroutine is oneDNN's thread for the life of the process
			if err := statusErr("dnnl_engine_create", C.dnnl_engine_create(&engine, C.dnnl_cpu, 0)); err != nil {
				ready <- err
				return
			}
			if err := statusErr("dnnl_stream_create", C.dnnl_stream_create(&stream, engine, C.dnnl_stream_default_flags)); err != nil {
				ready <- err
				return
			}
			ready <- nil
			for f := range calls {
				f()
			}
		}()
		startErr = <-ready
	})
	return startErr
}

// do runs f on the oneDNN goroutine and returns its error.
func do(f func() error) error {
	if err := start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	calls <- func() { done <- f() }
	return <-done
}

// wantThreads is the thread count oneDNN should use: OMP_NUM_THREADS when set (OpenMP applies it itself), else
// GOMAXPROCS.
func wantThreads() (n int, fromEnv bool) {
	if v := os.Getenv("OMP_NUM_THREADS"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if n, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && n > 0 {
			return n, true
		}
	}
	return runtime.GOMAXPROCS(0), false
}

// setThreads applies the wanted thread count on the oneDNN goroutine and returns the count OpenMP will use.
func setThreads() int {
	n, fromEnv := wantThreads()
	if !fromEnv && n != ompThread {
		C.omp_set_num_threads(C.int(n))
		ompThread = n
	}
	return int(C.omp_get_max_threads())
}

// plainFor reports whether s's primitives run on plain nchw/oihw: when PlainLayouts is set, and for pointwise
// convolutions (1×1, stride 1, no padding, ungrouped), which are one GEMM per image on NCHW. There oneDNN's GEMM
// kernel on the caller's buffers beat its blocked 1×1 kernel with the reorders around it in every MobileNet shape
// measured on AVX2 (backward data and weights 1.3–2.2× faster, forward as fast or faster), and no reorder is left.
func plainFor(s ConvShape) bool {
	return PlainLayouts || (s.K == 1 && s.Stride == 1 && s.Pad == 0 && s.groups() == 1)
}

// conv returns the cached primitives for s at the current thread count, creating them if needed. It runs on the
// oneDNN goroutine. (oneDNN's kernels fix their thread count when created, hence the thread count in the key.)
func conv(s ConvShape) (*C.bnz_conv, error) {
	s.Groups = s.groups()
	key := convKey{s: s, threads: setThreads(), plain: plainFor(s)}
	if c, ok := convs[key]; ok {
		return c, nil
	}
	g := [9]C.int64_t{C.int64_t(s.N), C.int64_t(s.C), C.int64_t(s.H), C.int64_t(s.W), C.int64_t(s.O),
		C.int64_t(s.K), C.int64_t(s.Stride), C.int64_t(s.Pad), C.int64_t(s.Groups)}
	plain := C.int(0)
	if key.plain {
		plain = 1
	}
	var c *C.bnz_conv
	var failed *C.char
	if st := C.bnz_conv_create(engine, &g[0], plain, &c, &failed); st != C.dnnl_success {
		return nil, fmt.Errorf("creating convolution %+v: %w", s, statusErr(C.GoString(failed), st))
	}
	convs[key] = c
	return c, nil
}

const (
	stepForward         = C.BNZ_FWD
	stepBackwardData    = C.BNZ_BWD_DATA
	stepBackwardWeights = C.BNZ_BWD_WEIGHTS
)

var stepNames = [...]string{"forward", "backward data", "backward weights"}

// exec runs one step of s's convolution on three buffers of the given lengths.
func exec(s ConvShape, step int, a, b, c []float32, la, lb, lc int) error {
	if err := s.check(); err != nil {
		return err
	}
	if len(a) != la || len(b) != lb || len(c) != lc {
		return fmt.Errorf("dnnl: %s of %+v: buffers of %d, %d, %d elements, want %d, %d, %d", stepNames[step], s,
			len(a), len(b), len(c), la, lb, lc)
	}
	return do(func() error {
		cv, err := conv(s)
		if err != nil {
			return err
		}
		var failed *C.char
		// The Go buffers are attached to oneDNN memory objects for this call only (bnz_exec detaches them).
		st := C.bnz_exec(cv, C.int(step), stream, unsafe.Pointer(&a[0]), unsafe.Pointer(&b[0]), unsafe.Pointer(&c[0]), &failed)
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
		if st != C.dnnl_success {
			return fmt.Errorf("%s of %+v: %w", stepNames[step], s, statusErr(C.GoString(failed), st))
		}
		return nil
	})
}

// Forward computes y = conv(x, w): x (N, C, H, W), w (O, C, K, K), y (N, O, Ho, Wo), all plain row-major float32.
func Forward(s ConvShape, x, w, y []float32) error {
	lx, lw, ly := s.sizes()
	return exec(s, stepForward, x, w, y, lx, lw, ly)
}

// BackwardData computes dx, the gradient with respect to the input, from w and dy (overwriting dx).
func BackwardData(s ConvShape, w, dy, dx []float32) error {
	lx, lw, ly := s.sizes()
	return exec(s, stepBackwardData, w, dy, dx, lw, ly, lx)
}

// BackwardWeights computes dw, the gradient with respect to the filter summed over the batch, from x and dy
// (overwriting dw).
func BackwardWeights(s ConvShape, x, dy, dw []float32) error {
	lx, lw, ly := s.sizes()
	return exec(s, stepBackwardWeights, x, dy, dw, lx, ly, lw)
}

// Describe returns, for the forward, backward-data and backward-weights primitives of s, the oneDNN implementation
// and the layouts it runs on ("abcd" is plain; "aBcd16b" is nChw16c), creating them if needed.
func Describe(s ConvShape) ([3]string, error) {
	var out [3]string
	if err := s.check(); err != nil {
		return out, err
	}
	err := do(func() error {
		cv, err := conv(s)
		if err != nil {
			return err
		}
		for i := range out {
			st := &cv.step[i]
			var args []string
			for j := range st.args {
				f := C.GoString(&st.args[j].format[0])
				if st.args[j].reorder != nil {
					f += " (reordered)"
				}
				args = append(args, f)
			}
			out[i] = fmt.Sprintf("%s: %s [%s]", stepNames[i], C.GoString(&st.impl[0]), strings.Join(args, ", "))
		}
		return nil
	})
	return out, err
}

// Threads returns the number of OpenMP threads oneDNN's kernels run on (OMP_NUM_THREADS, else GOMAXPROCS).
func Threads() (int, error) {
	var n int
	err := do(func() error {
		n = setThreads()
		return nil
	})
	return n, err
}

// ArenaBytes returns the bytes held by the buffers shared by all cached convolutions (their preferred layouts and
// scratchpads).
func ArenaBytes() int {
	var n int
	_ = do(func() error {
		n = int(C.bnz_arena_bytes())
		return nil
	})
	return n
}

var isaNames = map[C.dnnl_cpu_isa_t]string{
	C.dnnl_cpu_isa_all: "any", C.dnnl_cpu_isa_sse41: "sse41", C.dnnl_cpu_isa_avx: "avx", C.dnnl_cpu_isa_avx2: "avx2",
	C.dnnl_cpu_isa_avx512_mic: "avx512_mic", C.dnnl_cpu_isa_avx512_mic_4ops: "avx512_mic_4ops",
	C.dnnl_cpu_isa_avx512_core: "avx512_core", C.dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni",
	C.dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16", C.dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx",
	C.dnnl_cpu_isa_avx2_vnni: "avx2_vnni",
}

// Version describes the oneDNN library in use, e.g. "oneDNN 2.6.3 (CPU runtime OpenMP, ISA avx512_core_bf16)".
func Version() string {
	v := C.dnnl_version()
	rt := fmt.Sprintf("runtime %d", v.cpu_runtime)
	switch v.cpu_runtime {
	case C.DNNL_RUNTIME_OMP:
		rt = "OpenMP"
	case C.DNNL_RUNTIME_SEQ:
		rt = "sequential"
	case C.DNNL_RUNTIME_TBB:
		rt = "TBB"
	case C.DNNL_RUNTIME_THREADPOOL:
		rt = "threadpool"
	}
	isa := C.dnnl_get_effective_cpu_isa()
	name, ok := isaNames[isa]
	if !ok {
		name = fmt.Sprintf("%#x", int(isa))
	}
	return fmt.Sprintf("oneDNN %d.%d.%d (CPU runtime %s, ISA %s)", v.major, v.minor, v.patch, rt, name)
}

func checkLens(what string, want int, bufs ...[]float32) error {
	for i, b := range bufs {
		if len(b) != want {
			return fmt.Errorf("dnnl: %s: buffer %d has %d elements, want %d", what, i, len(b), want)
		}
	}
	return nil
}
