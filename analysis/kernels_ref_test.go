package analysis

import (
	"fmt"
	"math"
)

// refBatchAct is batchAct as it was before the kernels were interleaved over
// channels (kept as the reference the fast kernels must match bit for bit): it fills the z fields of a.part, a.partSat and a.partZ from one
// batch without touching the running state: each channel's values get a
// local two-pass computation in float64 (mean of y = z − shift first, then
// the central moment sums, corrected by the residual Σd), to be merged later
// with the pairwise formulas. It fails, naming the layer, on a NaN or
// infinite value. It must be called with a.mu held.
func refBatchAct[T float32 | float64](a *Accumulator, act []T, n, hw int) error {
	C := a.spec.Channels
	stride := C * hw
	sum, inv := a.sum, a.inv
	hi, lo := 1-a.opt.Delta, -1+a.opt.Delta
	nb, nh := a.opt.Bins, a.opt.HistBins
	half, halfH := float64(nb)/2, float64(nh)/2
	cnt := float64(n * hw)
	for c := 0; c < C; c++ {
		bin := a.partSat[c*nb : c*nb+nb]
		zh := a.partZ[c*nh : c*nh+nh]
		shift := a.ch[c].shift
		if a.ch[c].mom.n == 0 {
			shift = (2*float64(act[c*hw]) - sum) * inv
		}
		// Pass 1: Σy, saturation bins, z histogram and the saturated-band
		// counts. The band counts are branch-free: saturated values are
		// common and unpredictable.
		var sy float64
		var up, down int64
		for i := 0; i < n; i++ {
			row := act[i*stride+c*hw : i*stride+c*hw+hw]
			for _, x := range row {
				z := (2*float64(x) - sum) * inv
				sy += z - shift
				up += b2i(z > hi)
				down += b2i(z < lo)
				// Clamp for binning only; z = 1 gives k = bins, which
				// (like the int conversion of a NaN, rejected below)
				// goes to the last bin.
				zc := min(max(z, -1), 1) + 1
				k := int(zc * half)
				if uint(k) >= uint(nb) {
					k = nb - 1
				}
				bin[k] += z
				k = int(zc * halfH)
				if uint(k) >= uint(nh) {
					k = nh - 1
				}
				zh[k]++
			}
		}
		if math.IsNaN(sy) || math.IsInf(sy, 0) {
			return fmt.Errorf("analysis: layer %q: channel %d has a NaN or infinite activation value", a.spec.Name, c)
		}
		p := &a.part[c]
		p.shift = shift
		p.mom = refBatchMoments(act, c, n, hw, stride, sum, inv, shift, sy/cnt)
		p.up = up
		p.down = down
	}
	return nil
}

// batchNext fills the next fields of a.part and a.partN from one batch,
// like batchAct. It fails, naming the layer, on a NaN or infinite value.
// It must be called with a.mu held.
func refBatchNext[T float32 | float64](a *Accumulator, next []T, n, hw int) error {
	C := a.spec.Channels
	stride := C * hw
	// τ is compared in the precision of the input, so that t = 0.1 counts
	// as sparse for τ = 0.1 with float32 values too.
	tau := T(a.opt.Tau)
	nb := a.opt.NextBins
	lo, scale := a.nextLo, a.nextScale
	hi := -lo
	cnt := float64(n * hw)
	for c := 0; c < C; c++ {
		h := a.partN[c*(nb+2) : (c+1)*(nb+2)]
		shift := a.ch[c].nshift
		if a.ch[c].nmom.n == 0 {
			shift = float64(next[c*hw])
		}
		var sy float64
		var sparse int64
		for i := 0; i < n; i++ {
			row := next[i*stride+c*hw : i*stride+c*hw+hw]
			for _, x := range row {
				// −τ ≤ t ≤ τ, counted without branches: t < −τ
				// implies t ≤ τ.
				sparse += b2i(x <= tau) - b2i(x < -tau)
				t := float64(x)
				sy += t - shift
				var k int
				switch {
				case t < lo:
					k = 0
				case t > hi:
					k = nb + 1
				default:
					// t = hi (and a NaN, rejected below) goes to
					// the last bin.
					j := int((t - lo) * scale)
					if uint(j) >= uint(nb) {
						j = nb - 1
					}
					k = j + 1
				}
				h[k]++
			}
		}
		if math.IsNaN(sy) || math.IsInf(sy, 0) {
			return fmt.Errorf("analysis: layer %q: channel %d has a NaN or infinite next value", a.spec.Name, c)
		}
		p := &a.part[c]
		p.nshift = shift
		p.nmom = refBatchMean2(next, c, n, hw, stride, shift, sy/cnt)
		p.sparse = sparse
	}
	return nil
}

// batchMoments returns the moments of y = z − shift, z = (2x − sum)·inv
// computed exactly as in batchAct, over channel c of one batch ([n][C][hw]
// with stride C·hw), given the batch mean my of y computed in a first
// pass: the central moment sums around my, corrected by the residual Σd for
// the rounding of my.
func refBatchMoments[T float32 | float64](x []T, c, n, hw, stride int, sum, inv, shift, my float64) moments {
	cnt := float64(n * hw)
	var sd, s2, s3 float64
	for i := 0; i < n; i++ {
		row := x[i*stride+c*hw : i*stride+c*hw+hw]
		for _, v := range row {
			d := ((2*float64(v)-sum)*inv - shift) - my
			d2 := d * d
			sd += d
			s2 += d2
			s3 += d2 * d
		}
	}
	// With r = Σd/cnt the sums around my + r are Σd² − r·Σd and
	// Σd³ − 3r·Σd² + 2·cnt·r³.
	r := sd / cnt
	m2 := s2 - r*sd
	if m2 < 0 {
		m2 = 0
	}
	return moments{n: int64(cnt), mean: my + r, m2: m2, m3: s3 - 3*r*s2 + 2*cnt*r*r*r}
}

// batchMean2 is batchMoments for y = x − shift without the third moment
// (m3 stays 0): only the mean and the variance of next are reported.
func refBatchMean2[T float32 | float64](x []T, c, n, hw, stride int, shift, my float64) moments {
	cnt := float64(n * hw)
	var sd, s2 float64
	for i := 0; i < n; i++ {
		row := x[i*stride+c*hw : i*stride+c*hw+hw]
		for _, v := range row {
			d := (float64(v) - shift) - my
			sd += d
			s2 += d * d
		}
	}
	r := sd / cnt
	return moments{n: int64(cnt), mean: my + r, m2: max(s2-r*sd, 0)}
}

// refAdd is Add with the reference kernels.
func refAdd[T float32 | float64](a *Accumulator, act, next []T, n, hw int) error {
	if err := a.checkShape(len(act), len(next), n, hw); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bounded {
		if err := refBatchAct(a, act, n, hw); err != nil {
			a.clearScratch()
			return err
		}
	}
	if err := refBatchNext(a, next, n, hw); err != nil {
		a.clearScratch()
		return err
	}
	a.commit(n, hw)
	return nil
}
