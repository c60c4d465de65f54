package analysis

import (
	"fmt"
	"math"
	"sync"
)

// channelState is the running state of one channel of a bounded layer.
type channelState struct {
	// shift is the first z the channel ever saw. Moments are accumulated
	// on y = z − shift, which keeps the deltas between batch means exact
	// when the values cluster (e.g. at ±1); the moments are
	// shift-invariant and the mean of z is shift + mom.mean.
	shift    float64
	mom      moments
	up, down int64 // counts of z > 1 − δ and z < −1 + δ
}

// Accumulator streams the batches of one layer into per-channel state whose
// size does not depend on the number of samples. It is safe for concurrent
// use; the results are deterministic only when the batches arrive in a
// fixed order, since floating-point merges are not associative.
type Accumulator struct {
	spec    LayerSpec
	opt     Options
	bounded bool
	// z = (2a − sum)·inv, where sum = U + L and inv = 1/(U − L).
	sum, inv float64

	mu      sync.Mutex
	samples int64 // values seen per channel
	sparse  int64 // values of t with |t| ≤ τ, all channels
	ch      []channelState
	binSum  []float64 // Σ z per saturation bin, all channels

	// scratch for one batch, committed only when the whole batch is valid
	part    []channelState
	partBin []float64
}

// NewAccumulator returns an empty accumulator for the layer. It fails when
// the spec (see LayerSpec.Validate; Channels < 1 included) or the options
// are invalid.
func NewAccumulator(spec LayerSpec, opt Options) (*Accumulator, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("layer %q: %w", spec.Name, err)
	}
	a := &Accumulator{spec: spec, opt: opt, bounded: spec.Bounded()}
	if a.bounded {
		a.sum = spec.Upper + spec.Lower
		a.inv = 1 / (spec.Upper - spec.Lower)
		a.ch = make([]channelState, spec.Channels)
		a.binSum = make([]float64, opt.Bins)
		a.part = make([]channelState, spec.Channels)
		a.partBin = make([]float64, opt.Bins)
	}
	return a, nil
}

// Spec returns the layer's spec.
func (a *Accumulator) Spec() LayerSpec { return a.spec }

// Add takes one batch of float32 values. act (the activation output a) and
// next (what the next weight layer receives, t) both hold n·C·hw values laid
// out [n][C][hw], with hw = 1 for dense layers. A length mismatch, n < 0,
// hw < 1 or, for a bounded layer, a NaN or infinite activation value is an
// error naming the layer, and leaves the accumulator unchanged. A batch with
// n = 0 is a no-op. Sparsity compares |t| ≤ τ in the precision of the
// values (τ rounded to float32 for Add). For bounded layers z is computed
// in float64 as (2a − (U+L))·(1/(U−L)), exact when U − L is a power of two
// (tanh, sigmoid) and within an ulp of the quotient otherwise.
func (a *Accumulator) Add(act, next []float32, n, hw int) error {
	return addBatch(a, act, next, n, hw)
}

// AddFloat64 is Add for float64 values.
func (a *Accumulator) AddFloat64(act, next []float64, n, hw int) error {
	return addBatch(a, act, next, n, hw)
}

// checkShape returns an error naming the layer unless act and next both hold
// n·C·hw values.
func (a *Accumulator) checkShape(lenAct, lenNext, n, hw int) error {
	c := a.spec.Channels
	if n < 0 || hw < 1 {
		return fmt.Errorf("analysis: layer %q: invalid batch shape n=%d hw=%d", a.spec.Name, n, hw)
	}
	if hw > math.MaxInt/c || (n > 0 && n > math.MaxInt/(c*hw)) {
		return fmt.Errorf("analysis: layer %q: batch shape n=%d C=%d hw=%d overflows", a.spec.Name, n, c, hw)
	}
	want := n * c * hw
	if lenAct != want || lenNext != want {
		return fmt.Errorf("analysis: layer %q: length mismatch: want n·C·hw = %d·%d·%d = %d values, got act %d, next %d",
			a.spec.Name, n, c, hw, want, lenAct, lenNext)
	}
	return nil
}

// addBatch is the body of Add and AddFloat64.
func addBatch[T float32 | float64](a *Accumulator, act, next []T, n, hw int) error {
	if err := a.checkShape(len(act), len(next), n, hw); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	if a.bounded {
		if err := batchMoments(a, act, n, hw); err != nil {
			return err
		}
	}

	// τ is compared in the precision of the input, so that t = 0.1 counts
	// as sparse for τ = 0.1 with float32 values too.
	tau := T(a.opt.Tau)
	var sparse int64
	for _, t := range next {
		// −τ ≤ t ≤ τ, counted without branches: t < −τ implies t ≤ τ.
		sparse += b2i(t <= tau) - b2i(t < -tau)
	}

	// Commit.
	a.samples += int64(n) * int64(hw)
	a.sparse += sparse
	if a.bounded {
		for c := range a.ch {
			p := &a.part[c]
			s := &a.ch[c]
			if s.mom.n == 0 {
				s.shift = p.shift
			}
			s.mom.merge(p.mom)
			s.up += p.up
			s.down += p.down
		}
		for b, v := range a.partBin {
			a.binSum[b] += v
		}
	}
	return nil
}

// batchMoments fills a.part and a.partBin from one batch without touching
// the running state: each channel's values get a local two-pass computation
// in float64 (mean of y = z − shift first, then the central moment sums,
// corrected by the residual Σd), to be merged later with the pairwise
// formulas. It fails, naming the layer, on a NaN or infinite value. It must
// be called with a.mu held.
func batchMoments[T float32 | float64](a *Accumulator, act []T, n, hw int) error {
	C := a.spec.Channels
	stride := C * hw
	sum, inv := a.sum, a.inv
	hi, lo := 1-a.opt.Delta, -1+a.opt.Delta
	half := float64(a.opt.Bins) / 2
	cnt := float64(n * hw)
	bin := a.partBin
	clear(bin)
	for c := 0; c < C; c++ {
		shift := a.ch[c].shift
		if a.ch[c].mom.n == 0 {
			shift = (2*float64(act[c*hw]) - sum) * inv
		}
		// Pass 1: Σy, saturation bins and the saturated-band counts. The
		// loop is kept branch-free on the data: saturated values are
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
				k := int((min(max(z, -1), 1) + 1) * half)
				if uint(k) >= uint(len(bin)) {
					k = len(bin) - 1
				}
				bin[k] += z
			}
		}
		if math.IsNaN(sy) || math.IsInf(sy, 0) {
			return fmt.Errorf("analysis: layer %q: channel %d has a NaN or infinite activation value", a.spec.Name, c)
		}
		my := sy / cnt
		// Pass 2: central moment sums around the batch mean of y.
		var sd, s2, s3 float64
		for i := 0; i < n; i++ {
			row := act[i*stride+c*hw : i*stride+c*hw+hw]
			for _, x := range row {
				d := ((2*float64(x)-sum)*inv - shift) - my
				d2 := d * d
				sd += d
				s2 += d2
				s3 += d2 * d
			}
		}
		// Correct for the rounding of my: with r = Σd/cnt the sums around
		// my + r are Σd² − r·Σd and Σd³ − 3r·Σd² + 2·cnt·r³.
		r := sd / cnt
		m2 := s2 - r*sd
		if m2 < 0 {
			m2 = 0
		}
		a.part[c] = channelState{
			shift: shift,
			mom:   moments{n: int64(n * hw), mean: my + r, m2: m2, m3: s3 - 3*r*s2 + 2*cnt*r*r*r},
			up:    up,
			down:  down,
		}
	}
	return nil
}

// Metrics returns the layer's metrics over everything added so far. A layer
// that saw no values reports Samples 0, Sparsity 0 and null bounded metrics.
func (a *Accumulator) Metrics() LayerMetrics {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := LayerMetrics{
		Name:       a.spec.Name,
		Activation: a.spec.Activation,
		Placement:  a.spec.Placement,
		Channels:   a.spec.Channels,
		Samples:    a.samples,
	}
	if a.samples == 0 {
		return m
	}
	C := float64(a.spec.Channels)
	perChannel := float64(a.samples)
	total := perChannel * C
	m.Sparsity = float64(a.sparse) / total
	if !a.bounded {
		return m
	}
	var sat float64
	for _, v := range a.binSum {
		sat += math.Abs(v)
	}
	var up, down, asym, skew, center float64
	for _, s := range a.ch {
		up += float64(s.up)
		down += float64(s.down)
		asym += math.Abs(float64(s.up-s.down)) / perChannel
		skew += math.Abs(s.mom.skewness())
		center += s.shift + s.mom.mean
	}
	m.Saturation = finite(sat / total)
	m.UpperFraction = finite(up / total)
	m.LowerFraction = finite(down / total)
	m.AsymmetricSaturation = finite(asym / C)
	m.SkewnessAbsMean = finite(skew / C)
	m.Center = finite(center / C)
	return m
}

// finite returns a pointer to v, or nil when v is NaN or infinite, so that a
// metric is never NaN in JSON.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// b2i is 1 for true and 0 for false (compiled to a SETcc, not a branch).
func b2i(b bool) int64 {
	var i int64
	if b {
		i = 1
	}
	return i
}
