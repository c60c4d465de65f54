//go:build dnnl

package dnnl

/*
#include "bnz_analysis.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// AnalysisLayer is one tapped layer's geometry and constants for AnalyseBatch; the fields mirror
// analysis.Accumulator's (see bnz_analysis.h).
type AnalysisLayer struct {
	N, C, HW                 int
	Bounded                  bool
	Sum, Inv, Hi, Lo         float64
	Bins, HistBins, NextBins int
	NextLo, NextScale        float64
	Tau                      float32
}

// AnalysisOut receives AnalyseBatch's per-channel results: the histograms are added to, the rest is written.
// Sat, ZHist, YSum, Up, Down and ActSums are only used for a bounded layer.
type AnalysisOut struct {
	Sat      []float64 // [C][Bins]
	ZHist    []int64   // [C][HistBins]
	NHist    []int64   // [C][NextBins+2]
	YSum     []float64 // [C]
	Up, Down []int64   // [C]
	ActSums  []float64 // [C][3]: Σd, Σd², Σd³
	TSum     []float64 // [C]
	Sparse   []int64   // [C]
	NextSums []float64 // [C][2]: Σd, Σd²
}

// AnalyseBatch runs analysis.Accumulator's two passes over the activation values act and the next-layer inputs
// next of one [N][C][HW] batch, with the per-channel shifts shift and nshift, on the oneDNN goroutine's OpenMP
// team (bnz_analysis.c). The results are the bits of analysis' Go kernels.
func AnalyseBatch(l AnalysisLayer, act, next []float32, shift, nshift []float64, o *AnalysisOut) error {
	if l.N < 1 || l.C < 1 || l.HW < 1 || l.Bins < 1 || l.HistBins < 1 || l.NextBins < 1 {
		return fmt.Errorf("dnnl: analysis: invalid geometry %+v", l)
	}
	if l.Bins >= 1<<30 || l.HistBins >= 1<<30 || l.NextBins >= 1<<30 {
		return fmt.Errorf("dnnl: analysis: %d, %d or %d bins are too many", l.Bins, l.HistBins, l.NextBins)
	}
	want := l.N * l.C * l.HW
	if len(next) != want || len(nshift) != l.C || len(o.NHist) != l.C*(l.NextBins+2) || len(o.TSum) != l.C ||
		len(o.Sparse) != l.C || len(o.NextSums) != 2*l.C {
		return fmt.Errorf("dnnl: analysis: next buffers do not fit %d×%d×%d", l.N, l.C, l.HW)
	}
	if l.Bounded && (len(act) != want || len(shift) != l.C || len(o.Sat) != l.C*l.Bins ||
		len(o.ZHist) != l.C*l.HistBins || len(o.YSum) != l.C || len(o.Up) != l.C || len(o.Down) != l.C ||
		len(o.ActSums) != 3*l.C) {
		return fmt.Errorf("dnnl: analysis: activation buffers do not fit %d×%d×%d", l.N, l.C, l.HW)
	}
	cl := C.bnz_an_layer{n: C.int64_t(l.N), c: C.int64_t(l.C), hw: C.int64_t(l.HW), sum: C.double(l.Sum),
		inv: C.double(l.Inv), hi: C.double(l.Hi), lo: C.double(l.Lo), bins: C.int64_t(l.Bins),
		hist_bins: C.int64_t(l.HistBins), next_bins: C.int64_t(l.NextBins), next_lo: C.double(l.NextLo),
		next_scale: C.double(l.NextScale), tau: C.float(l.Tau)}
	// Unbounded layers have no activation buffers: C gets null pointers for them (it does not read them).
	var (
		actP                *C.float
		shiftP, sat, ys, as *C.double
		zh, up, down        *C.int64_t
	)
	if l.Bounded {
		cl.bounded = 1
		actP, shiftP, sat, zh, ys, up, down, as = fp(act), dp(shift), dp(o.Sat), ip(o.ZHist), dp(o.YSum), ip(o.Up),
			ip(o.Down), dp(o.ActSums)
	}
	return do(func() error {
		setThreads()
		C.bnz_analysis_batch(&cl, actP, fp(next), shiftP, dp(nshift), sat, zh, ip(o.NHist), ys, up, down, as,
			dp(o.TSum), ip(o.Sparse), dp(o.NextSums))
		runtime.KeepAlive(act)
		runtime.KeepAlive(next)
		runtime.KeepAlive(shift)
		runtime.KeepAlive(nshift)
		runtime.KeepAlive(o)
		return nil
	})
}

// ip passes a non-empty int64 slice to C.
func ip(s []int64) *C.int64_t { return (*C.int64_t)(unsafe.Pointer(&s[0])) }
