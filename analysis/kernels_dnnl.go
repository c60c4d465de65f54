//go:build dnnl

package analysis

import "github.com/bnzoo/bnzoo/internal/dnnl"

// accelScratch holds the per-channel inputs and outputs of the C kernels that the Go kernels read and write
// straight in a.part.
type accelScratch struct {
	shift, nshift     []float64
	up, down, sparse  []int64
	actSums, nextSums []float64
}

// acceleratedBatch runs both passes of a float32 batch with internal/dnnl's C kernels (vectorised over channels,
// split over the OpenMP team; the Go kernels' bits, see bnz_analysis.c) and fills a.part, a.partY and a.partT as
// batchAct and batchNext would, NaN checks included. It reports false for float64 batches, which take the Go
// kernels. It must be called with a.mu held and n > 0.
func acceleratedBatch[T float32 | float64](a *Accumulator, act, next []T, n, hw int) (bool, error) {
	act32, ok := any(act).([]float32)
	if !ok {
		return false, nil
	}
	next32 := any(next).([]float32)
	C := a.spec.Channels
	if a.accel == nil {
		a.accel = &accelScratch{shift: make([]float64, C), nshift: make([]float64, C), up: make([]int64, C),
			down: make([]int64, C), sparse: make([]int64, C), actSums: make([]float64, 3*C), nextSums: make([]float64, 2*C)}
	}
	s := a.accel
	if a.bounded {
		actShifts(a, act32, hw)
	}
	nextShifts(a, next32, hw)
	for c := range a.part {
		s.shift[c], s.nshift[c] = a.part[c].shift, a.part[c].nshift
	}
	l := dnnl.AnalysisLayer{N: n, C: C, HW: hw, Bounded: a.bounded, Sum: a.sum, Inv: a.inv,
		Hi: 1 - a.opt.Delta, Lo: -1 + a.opt.Delta, Bins: a.opt.Bins, HistBins: a.opt.HistBins,
		NextBins: a.opt.NextBins, NextLo: a.nextLo, NextScale: a.nextScale, Tau: float32(a.opt.Tau)}
	o := &dnnl.AnalysisOut{Sat: a.partSat, ZHist: a.partZ, NHist: a.partN, YSum: a.partY, Up: s.up, Down: s.down,
		ActSums: s.actSums, TSum: a.partT, Sparse: s.sparse, NextSums: s.nextSums}
	if err := dnnl.AnalyseBatch(l, act32, next32, s.shift, s.nshift, o); err != nil {
		return true, err
	}
	cnt := float64(n * hw)
	if a.bounded {
		if err := a.checkFinite(a.partY, "activation"); err != nil {
			return true, err
		}
		for c := range a.part {
			p := &a.part[c]
			p.up, p.down = s.up[c], s.down[c]
			p.mom = centralMoments(cnt, a.partY[c]/cnt, s.actSums[3*c], s.actSums[3*c+1], s.actSums[3*c+2])
		}
	}
	if err := a.checkFinite(a.partT, "next"); err != nil {
		return true, err
	}
	for c := range a.part {
		p := &a.part[c]
		p.sparse = s.sparse[c]
		p.nmom = centralMoments2(cnt, a.partT[c]/cnt, s.nextSums[2*c], s.nextSums[2*c+1])
	}
	return true, nil
}
