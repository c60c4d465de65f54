package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
)

// channelState is the running state of one channel.
type channelState struct {
	// shift is the first z the channel ever saw. Moments are accumulated
	// on y = z − shift, which keeps the deltas between batch means exact
	// when the values cluster (e.g. at ±1); the moments are
	// shift-invariant and the mean of z is shift + mom.mean. Only used
	// for bounded layers.
	shift    float64
	mom      moments
	up, down int64 // counts of z > 1 − δ and z < −1 + δ

	// nshift and nmom are shift and mom for next (t), for every layer;
	// nmom.m3 is not maintained (only the mean and variance are used).
	nshift float64
	nmom   moments
	sparse int64 // count of |t| ≤ τ
}

// Accumulator streams the batches of one layer into per-channel state whose
// size does not depend on the number of samples: per channel a few moments
// and counters, Options.Bins saturation sums, a z histogram of
// Options.HistBins counts and a next histogram of Options.NextBins + 2
// counts. It is safe for concurrent use; the results are deterministic only
// when the batches arrive in a fixed order, since floating-point merges are
// not associative (the counts are exact in any order).
type Accumulator struct {
	spec    LayerSpec
	opt     Options // with defaults filled in
	bounded bool
	// z = (2a − sum)·inv, where sum = U + L and inv = 1/(U − L).
	sum, inv float64
	// The next histogram covers [nextLo, −nextLo] with nextScale =
	// NextBins/(2·NextRange) bins per unit.
	nextLo, nextScale float64

	mu      sync.Mutex
	samples int64 // values seen per channel
	ch      []channelState
	sat     []float64 // [C][Bins]: Σ z per saturation bin (bounded only)
	zHist   []int64   // [C][HistBins] (bounded only)
	nHist   []int64   // [C][NextBins+2]: underflow, the bins, overflow

	// Scratch for one batch, committed only when the whole batch is
	// valid. partSat, partZ and partN are all zero between batches; part,
	// partY and partT are overwritten by every batch.
	part    []channelState
	partSat []float64
	partZ   []int64
	partN   []int64
	partY   []float64     // [C]: Σ(z − shift) of pass 1 (bounded only)
	partT   []float64     // [C]: Σ(t − nshift) of pass 1
	accel   *accelScratch // the C kernels' outputs (dnnl builds only; nil until used)
}

// NewAccumulator returns an empty accumulator for the layer. It fails when
// the spec (see LayerSpec.Validate; Channels < 1 included) or the options
// are invalid. Zero histogram options take their defaults.
func NewAccumulator(spec LayerSpec, opt Options) (*Accumulator, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("layer %q: %w", spec.Name, err)
	}
	opt = opt.withDefaults()
	C := spec.Channels
	if C > math.MaxInt/8/(opt.Bins+opt.HistBins+opt.NextBins+2) {
		return nil, fmt.Errorf("analysis: layer %q: %d channels with %d+%d+%d bins are too many", spec.Name, C, opt.Bins, opt.HistBins, opt.NextBins)
	}
	a := &Accumulator{spec: spec, opt: opt, bounded: spec.Bounded()}
	a.nextLo = -opt.NextRange
	a.nextScale = float64(opt.NextBins) / (2 * opt.NextRange)
	a.ch = make([]channelState, C)
	a.part = make([]channelState, C)
	a.nHist = make([]int64, C*(opt.NextBins+2))
	a.partN = make([]int64, C*(opt.NextBins+2))
	a.partT = make([]float64, C)
	if a.bounded {
		a.sum = spec.Upper + spec.Lower
		a.inv = 1 / (spec.Upper - spec.Lower)
		a.sat = make([]float64, C*opt.Bins)
		a.partSat = make([]float64, C*opt.Bins)
		a.zHist = make([]int64, C*opt.HistBins)
		a.partZ = make([]int64, C*opt.HistBins)
		a.partY = make([]float64, C)
	}
	return a, nil
}

// Spec returns the layer's spec.
func (a *Accumulator) Spec() LayerSpec { return a.spec }

// Options returns the accumulator's options, with the histogram defaults
// filled in.
func (a *Accumulator) Options() Options { return a.opt }

// Add takes one batch of float32 values. act (the activation output a) and
// next (what the next weight layer receives, t) both hold n·C·hw values laid
// out [n][C][hw], with hw = 1 for dense layers. A length mismatch, n < 0,
// hw < 1, more than 2³¹−1 values per channel (n·hw), a NaN or infinite next
// value or, for a bounded layer, a NaN or infinite activation value is an
// error naming the layer, and leaves the accumulator unchanged. A batch with
// n = 0 is a no-op. Sparsity compares |t| ≤ τ in the precision of the values
// (τ rounded to float32 for Add).
// For bounded layers z is computed in float64 as (2a − (U+L))·(1/(U−L)),
// exact when U − L is a power of two (tanh, sigmoid) and within an ulp of
// the quotient otherwise.
func (a *Accumulator) Add(act, next []float32, n, hw int) error {
	return addBatch(a, act, next, n, hw)
}

// AddFloat64 is Add for float64 values.
func (a *Accumulator) AddFloat64(act, next []float64, n, hw int) error {
	return addBatch(a, act, next, n, hw)
}

// maxBatchValues bounds the values per channel of one batch: the kernels
// count both saturated bands of a channel in one int64 (see bandCount).
const maxBatchValues = 1<<31 - 1

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
	if n*hw > maxBatchValues {
		return fmt.Errorf("analysis: layer %q: batch of n·hw = %d·%d values per channel is too large (at most %d): split it", a.spec.Name, n, hw, maxBatchValues)
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

	if done, err := acceleratedBatch(a, act, next, n, hw); done {
		if err != nil {
			a.clearScratch()
			return err
		}
		a.commit(n, hw)
		return nil
	}
	if a.bounded {
		if err := batchAct(a, act, n, hw); err != nil {
			a.clearScratch()
			return err
		}
	}
	if err := batchNext(a, next, n, hw); err != nil {
		a.clearScratch()
		return err
	}

	a.commit(n, hw)
	return nil
}

// commit folds the batch scratch into the running state, leaving the scratch
// zero. It must be called with a.mu held.
func (a *Accumulator) commit(n, hw int) {
	a.samples += int64(n) * int64(hw)
	for c := range a.ch {
		p := &a.part[c]
		s := &a.ch[c]
		if a.bounded {
			if s.mom.n == 0 {
				s.shift = p.shift
			}
			s.mom.merge(p.mom)
			s.up += p.up
			s.down += p.down
		}
		if s.nmom.n == 0 {
			s.nshift = p.nshift
		}
		s.nmom.merge(p.nmom)
		s.sparse += p.sparse
	}
	addAndClear(a.sat, a.partSat)
	addAndClear(a.zHist, a.partZ)
	addAndClear(a.nHist, a.partN)
}

// addAndClear adds src to dst element-wise and zeroes src.
func addAndClear[E int64 | float64](dst, src []E) {
	for i, v := range src {
		dst[i] += v
		src[i] = 0
	}
}

// clearScratch zeroes the batch scratch after a rejected batch.
func (a *Accumulator) clearScratch() {
	clear(a.partSat)
	clear(a.partZ)
	clear(a.partN)
}

// Metrics returns the layer's metrics over everything added so far. A layer
// that saw no values reports Samples 0, Sparsity 0, null metrics, one
// all-null entry per channel and null histograms (no top channels).
func (a *Accumulator) Metrics() LayerMetrics {
	a.mu.Lock()
	defer a.mu.Unlock()
	C := a.spec.Channels
	m := LayerMetrics{
		Name:       a.spec.Name,
		Activation: a.spec.Activation,
		Placement:  a.spec.Placement,
		Channels:   C,
		Samples:    a.samples,
		PerChannel: make([]ChannelMetrics, C),
		Histograms: &LayerHistograms{TopChannels: []ChannelHistograms{}},
	}
	for c := range m.PerChannel {
		m.PerChannel[c].Index = c
	}
	if a.samples == 0 {
		return m
	}
	perChannel := float64(a.samples)
	total := perChannel * float64(C)

	// next: sparsity, moments and the histogram, for every layer.
	var sparse int64
	var pooled moments
	nb := a.opt.NextBins
	nextPooled := make([]int64, nb+2)
	for c := range a.ch {
		s := &a.ch[c]
		pc := &m.PerChannel[c]
		sparse += s.sparse
		pc.Sparsity = finite(float64(s.sparse) / perChannel)
		mean := s.nshift + s.nmom.mean
		pc.NextMean = finite(mean)
		pc.NextStd = finite(math.Sqrt(s.nmom.m2 / perChannel))
		pooled.merge(moments{n: s.nmom.n, mean: mean, m2: s.nmom.m2, m3: s.nmom.m3})
		for k, v := range a.nHist[c*(nb+2) : (c+1)*(nb+2)] {
			nextPooled[k] += v
		}
	}
	m.Sparsity = float64(sparse) / total
	m.NextMean = finite(pooled.mean)
	m.NextStd = finite(math.Sqrt(pooled.m2 / total))
	m.Histograms.Next = a.nextHistogram(nextPooled)
	if !a.bounded {
		return m
	}

	B, H := a.opt.Bins, a.opt.HistBins
	pooledSat := make([]float64, B)
	zPooled := make([]int64, H)
	var up, down, asym, skew, center float64
	for c := range a.ch {
		s := &a.ch[c]
		pc := &m.PerChannel[c]
		var satC float64
		for b, v := range a.sat[c*B : (c+1)*B] {
			satC += math.Abs(v)
			pooledSat[b] += v
		}
		for k, v := range a.zHist[c*H : (c+1)*H] {
			zPooled[k] += v
		}
		g := s.mom.skewness()
		pc.UpperFraction = finite(float64(s.up) / perChannel)
		pc.LowerFraction = finite(float64(s.down) / perChannel)
		pc.Skewness = finite(g)
		pc.Center = finite(s.shift + s.mom.mean)
		pc.Saturation = finite(satC / perChannel)

		up += float64(s.up)
		down += float64(s.down)
		asym += math.Abs(float64(s.up-s.down)) / perChannel
		skew += math.Abs(g)
		center += s.shift + s.mom.mean
	}
	var sat float64
	for _, v := range pooledSat {
		sat += math.Abs(v)
	}
	m.Saturation = finite(sat / total)
	m.UpperFraction = finite(up / total)
	m.LowerFraction = finite(down / total)
	m.AsymmetricSaturation = finite(asym / float64(C))
	m.SkewnessAbsMean = finite(skew / float64(C))
	m.Center = finite(center / float64(C))

	m.Histograms.Z = &Histogram{Lo: -1, Hi: 1, Counts: zPooled}
	for _, c := range a.topChannels() {
		m.Histograms.TopChannels = append(m.Histograms.TopChannels, ChannelHistograms{
			Channel: c,
			Z:       &Histogram{Lo: -1, Hi: 1, Counts: slices.Clone(a.zHist[c*H : (c+1)*H])},
			Next:    a.nextHistogram(a.nHist[c*(nb+2) : (c+1)*(nb+2)]),
		})
	}
	return m
}

// nextHistogram turns NextBins+2 counts (underflow, bins, overflow) into a
// Histogram, copying them.
func (a *Accumulator) nextHistogram(counts []int64) *Histogram {
	nb := len(counts) - 2
	return &Histogram{Lo: a.nextLo, Hi: -a.nextLo, Counts: slices.Clone(counts[1 : nb+1]),
		Underflow: counts[0], Overflow: counts[nb+1]}
}

// topChannels returns the indices of the Options.TopChannels channels with
// the largest |up_c − down_c| (all channels see the same number of values,
// so this orders |upper_fraction_c − lower_fraction_c| exactly), ties by
// the lower index. It must be called with a.mu held.
func (a *Accumulator) topChannels() []int {
	idx := make([]int, len(a.ch))
	for c := range idx {
		idx[c] = c
	}
	absDiff := func(c int) int64 {
		d := a.ch[c].up - a.ch[c].down
		if d < 0 {
			d = -d
		}
		return d
	}
	slices.SortFunc(idx, func(x, y int) int {
		if r := cmp.Compare(absDiff(y), absDiff(x)); r != 0 {
			return r
		}
		return cmp.Compare(x, y)
	})
	return idx[:min(a.opt.TopChannels, len(idx))]
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
