package analysis

import (
	"fmt"
	"math"
)

// The per-batch kernels of Accumulator. Every per-channel sum adds its values in one fixed order — sample by sample,
// position by position — whatever the grouping of channels below, so the results are bit for bit those of a plain
// one-channel loop (kernels_ref_test.go keeps that loop and checks it). Channels are processed four at a time
// (kernels4.go): a single channel's running sums and histogram read-modify-writes form dependency chains (saturated
// values hit the same bin again and again), and four independent channels let the CPU overlap those chains instead of
// waiting on each one. The remainder of C mod 4 channels takes the one-channel loops here. Builds with the dnnl tag
// run float32 batches through C versions of these kernels instead (kernels_dnnl.go, internal/dnnl/bnz_analysis.c:
// four channels per AVX2 vector, groups split over the OpenMP team), checked against the same reference.

// lanes is the number of channels the interleaved kernels process side by side.
const lanes = 4

// batchAct fills the z fields of a.part, a.partSat and a.partZ from one
// batch without touching the running state: each channel's values get a
// local two-pass computation in float64 (the sum of y = z − shift first,
// then the central moment sums around the batch mean, corrected by the
// residual Σd), to be merged later with the pairwise formulas. It fails,
// naming the layer and the first such channel, on a NaN or infinite value.
// It must be called with a.mu held.
func batchAct[T float32 | float64](a *Accumulator, act []T, n, hw int) error {
	actShifts(a, act, hw)
	overChannels(a.spec.Channels, func(c int) { actSums4(a, act, c, n, hw) }, func(c int) { actSums1(a, act, c, n, hw) })
	if err := a.checkFinite(a.partY, "activation"); err != nil {
		return err
	}
	overChannels(a.spec.Channels, func(c int) { actMoments4(a, act, c, n, hw) }, func(c int) { actMoments1(a, act, c, n, hw) })
	return nil
}

// batchNext fills the next fields of a.part and a.partN from one batch,
// like batchAct. It fails, naming the layer and the first such channel, on
// a NaN or infinite value. It must be called with a.mu held.
func batchNext[T float32 | float64](a *Accumulator, next []T, n, hw int) error {
	nextShifts(a, next, hw)
	overChannels(a.spec.Channels, func(c int) { nextSums4(a, next, c, n, hw) }, func(c int) { nextSums1(a, next, c, n, hw) })
	if err := a.checkFinite(a.partT, "next"); err != nil {
		return err
	}
	overChannels(a.spec.Channels, func(c int) { nextMoments4(a, next, c, n, hw) }, func(c int) { nextMoments1(a, next, c, n, hw) })
	return nil
}

// overChannels calls group(c) for the first channel of every full group of
// four channels and single(c) for each channel left over.
func overChannels(channels int, group, single func(c int)) {
	c := 0
	for ; c+lanes <= channels; c += lanes {
		group(c)
	}
	for ; c < channels; c++ {
		single(c)
	}
}

// actShifts sets the z shift of every channel in a.part: the running one,
// or the channel's first value in this batch when it has none yet.
func actShifts[T float32 | float64](a *Accumulator, act []T, hw int) {
	for c := range a.part {
		p := &a.part[c]
		p.shift = a.ch[c].shift
		if a.ch[c].mom.n == 0 {
			p.shift = (2*float64(act[c*hw]) - a.sum) * a.inv
		}
	}
}

// nextShifts is actShifts for next.
func nextShifts[T float32 | float64](a *Accumulator, next []T, hw int) {
	for c := range a.part {
		p := &a.part[c]
		p.nshift = a.ch[c].nshift
		if a.ch[c].nmom.n == 0 {
			p.nshift = float64(next[c*hw])
		}
	}
}

// checkFinite returns an error naming the layer and the first channel whose
// pass-1 sum is NaN or infinite: a NaN or infinite value of what (the
// activation or next) somewhere in that channel.
func (a *Accumulator) checkFinite(sums []float64, what string) error {
	for c, sy := range sums {
		if math.IsNaN(sy) || math.IsInf(sy, 0) {
			return fmt.Errorf("analysis: layer %q: channel %d has a NaN or infinite %s value", a.spec.Name, c, what)
		}
	}
	return nil
}

// actSums1 is pass 1 of batchAct for channel c: Σy into a.partY, the
// saturation bins, the z histogram and the saturated-band counts.
func actSums1[T float32 | float64](a *Accumulator, act []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	sum, inv := a.sum, a.inv
	hi, lo := 1-a.opt.Delta, -1+a.opt.Delta
	nb, nh := a.opt.Bins, a.opt.HistBins
	half, halfH := float64(nb)/2, float64(nh)/2
	bin := a.partSat[c*nb : c*nb+nb]
	zh := a.partZ[c*nh : c*nh+nh]
	p := &a.part[c]
	shift := p.shift
	var sy float64
	var bands int64
	for i := 0; i < n; i++ {
		for _, x := range act[i*stride+c*hw : i*stride+c*hw+hw] {
			z := (2*float64(x) - sum) * inv
			sy += z - shift
			bands += bandCount(z, lo, hi)
			zc := min(max(z, -1), 1) + 1
			bin[binIndex(zc*half, nb)] += z
			zh[binIndex(zc*halfH, nh)]++
		}
	}
	a.partY[c] = sy
	p.up, p.down = unpackBands(bands)
}

// actMoments1 is pass 2 of batchAct for channel c: the central moment sums
// of y around the batch mean of pass 1.
func actMoments1[T float32 | float64](a *Accumulator, act []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	sum, inv := a.sum, a.inv
	p := &a.part[c]
	shift := p.shift
	cnt := float64(n * hw)
	my := a.partY[c] / cnt
	var sd, s2, s3 float64
	for i := 0; i < n; i++ {
		for _, v := range act[i*stride+c*hw : i*stride+c*hw+hw] {
			d := ((2*float64(v)-sum)*inv - shift) - my
			d2 := d * d
			sd += d
			s2 += d2
			s3 += d2 * d
		}
	}
	p.mom = centralMoments(cnt, my, sd, s2, s3)
}

// nextSums1 is pass 1 of batchNext for channel c: Σ(t − nshift) into
// a.partT, the sparse count and the next histogram. τ is compared in the
// precision of the input, so that t = 0.1 counts as sparse for τ = 0.1 with
// float32 values too.
func nextSums1[T float32 | float64](a *Accumulator, next []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	tau := T(a.opt.Tau)
	nb := a.opt.NextBins
	lo, scale := a.nextLo, a.nextScale
	h := a.partN[c*(nb+2) : (c+1)*(nb+2)]
	p := &a.part[c]
	shift := p.nshift
	var sy float64
	var sparse int64
	for i := 0; i < n; i++ {
		for _, x := range next[i*stride+c*hw : i*stride+c*hw+hw] {
			sparse += b2i(x <= tau) - b2i(x < -tau)
			t := float64(x)
			sy += t - shift
			h[nextBin(t, lo, scale, nb)]++
		}
	}
	a.partT[c] = sy
	p.sparse = sparse
}

// nextMoments1 is pass 2 of batchNext for channel c: the mean and the
// second central moment sum of next (m3 stays 0: only the mean and the
// variance of next are reported).
func nextMoments1[T float32 | float64](a *Accumulator, next []T, c, n, hw int) {
	stride := a.spec.Channels * hw
	p := &a.part[c]
	shift := p.nshift
	cnt := float64(n * hw)
	my := a.partT[c] / cnt
	var sd, s2 float64
	for i := 0; i < n; i++ {
		for _, v := range next[i*stride+c*hw : i*stride+c*hw+hw] {
			d := (float64(v) - shift) - my
			sd += d
			s2 += d * d
		}
	}
	p.nmom = centralMoments2(cnt, my, sd, s2)
}

// centralMoments turns the sums Σd, Σd², Σd³ of d = y − my over cnt values
// into moments around my + r, r = Σd/cnt, correcting for the rounding of
// my: Σd² − r·Σd and Σd³ − 3r·Σd² + 2·cnt·r³.
func centralMoments(cnt, my, sd, s2, s3 float64) moments {
	r := sd / cnt
	m2 := s2 - r*sd
	if m2 < 0 {
		m2 = 0
	}
	return moments{n: int64(cnt), mean: my + r, m2: m2, m3: s3 - 3*r*s2 + 2*cnt*r*r*r}
}

// centralMoments2 is centralMoments without the third moment.
func centralMoments2(cnt, my, sd, s2 float64) moments {
	r := sd / cnt
	return moments{n: int64(cnt), mean: my + r, m2: max(s2-r*sd, 0)}
}

// bandCount returns 1 for z > hi and 1<<32 for z < lo (0 otherwise), so
// that one int64 counts both saturated bands of a channel: hi > lo, so at
// most one is set, and a batch has fewer than 2³¹ values per channel (see
// Accumulator.checkShape), so the low count never carries into the high.
// unpackBands splits the sum. Branch-free: saturated values are common and
// unpredictable.
func bandCount(z, lo, hi float64) int64 {
	return b2i(z > hi) + b2i(z < lo)<<32
}

// unpackBands splits a sum of bandCount values into the counts of z > hi
// and z < lo.
func unpackBands(v int64) (up, down int64) {
	return v & (1<<32 - 1), v >> 32
}

// binIndex is int(v) for v in [0, nb), and nb − 1 otherwise: v = nb (z = 1)
// and the int conversion of a NaN (rejected after pass 1) go to the last
// bin. Callers clamp z to [−1, 1] first, so v is never negative.
func binIndex(v float64, nb int) int {
	k := int(v)
	if uint(k) >= uint(nb) {
		k = nb - 1
	}
	return k
}

// nextBin is the index of t in the next histogram of nb bins over
// [lo, −lo] with scale bins per unit: 0 is the underflow, nb + 1 the
// overflow; t = −lo (and a NaN, rejected after pass 1) goes to the last bin.
func nextBin(t, lo, scale float64, nb int) int {
	switch {
	case t < lo:
		return 0
	case t > -lo:
		return nb + 1
	}
	return binIndex((t-lo)*scale, nb) + 1
}
