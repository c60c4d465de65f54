package analysis

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

var tanhSpec = LayerSpec{Name: "features.0", Activation: "tanh", Placement: PlacementConventional, Lower: -1, Upper: 1}

func newAcc(t testing.TB, s LayerSpec, channels int, opt Options) *Accumulator {
	t.Helper()
	s.Channels = channels
	a, err := NewAccumulator(s, opt)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fill returns n·C·hw float32 values laid out [n][C][hw], with f(i, c, k)
// giving the value of sample i, channel c, position k.
func fill(n, C, hw int, f func(i, c, k int) float32) []float32 {
	out := make([]float32, 0, n*C*hw)
	for i := 0; i < n; i++ {
		for c := 0; c < C; c++ {
			for k := 0; k < hw; k++ {
				out = append(out, f(i, c, k))
			}
		}
	}
	return out
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// want lists expected metrics; a NaN entry means "must be null".
type want struct {
	sat, upper, lower, asym, skew, center, sparsity float64
}

func checkMetrics(t *testing.T, m LayerMetrics, w want, tol float64) {
	t.Helper()
	fields := []struct {
		name string
		got  *float64
		want float64
	}{
		{"saturation", m.Saturation, w.sat},
		{"upper_fraction", m.UpperFraction, w.upper},
		{"lower_fraction", m.LowerFraction, w.lower},
		{"asymmetric_saturation", m.AsymmetricSaturation, w.asym},
		{"skewness_abs_mean", m.SkewnessAbsMean, w.skew},
		{"center", m.Center, w.center},
	}
	for _, f := range fields {
		switch {
		case math.IsNaN(f.want) && f.got != nil:
			t.Errorf("%s = %v, want null", f.name, *f.got)
		case math.IsNaN(f.want):
		case f.got == nil:
			t.Errorf("%s = null, want %v", f.name, f.want)
		case !near(*f.got, f.want, tol):
			t.Errorf("%s = %.17g, want %.17g", f.name, *f.got, f.want)
		}
	}
	if !near(m.Sparsity, w.sparsity, tol) {
		t.Errorf("sparsity = %.17g, want %.17g", m.Sparsity, w.sparsity)
	}
}

func TestAllAtUpperBound(t *testing.T) {
	// Every z = 1: all mass in the last bin, φ = |N|/N = 1; every value is
	// in the upper band (upper 1, lower 0, per channel |1 − 0| = 1); each
	// channel is constant, so skewness 0; center 1; t = a = 1 > τ, so
	// sparsity 0.
	a := newAcc(t, tanhSpec, 2, DefaultOptions())
	x := fill(4, 2, 3, func(i, c, k int) float32 { return 1 })
	if err := a.Add(x, x, 4, 3); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	checkMetrics(t, m, want{sat: 1, upper: 1, lower: 0, asym: 1, skew: 0, center: 1, sparsity: 0}, 0)
	if m.Samples != 12 {
		t.Errorf("samples = %d, want 4·3 = 12 per channel", m.Samples)
	}
}

func TestHalfUpperHalfLower(t *testing.T) {
	// One channel, half +1 half −1: bins 0 and 9 hold −N/2 and +N/2, so
	// φ = (N/2 + N/2)/N = 1; upper = lower = 1/2, asym |1/2 − 1/2| = 0;
	// the distribution is symmetric, so M3 = 0 and the skewness 0; center 0.
	a := newAcc(t, tanhSpec, 1, DefaultOptions())
	x := fill(8, 1, 1, func(i, c, k int) float32 { return float32(1 - 2*(i%2)) })
	if err := a.Add(x, x, 8, 1); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, a.Metrics(), want{sat: 1, upper: 0.5, lower: 0.5, asym: 0, skew: 0, center: 0, sparsity: 0}, 0)
}

func TestOneSidedChannels(t *testing.T) {
	// Channel 0 all +1 (upper_c 1, lower_c 0), channel 1 all −1 (0, 1):
	// asym = (1 + 1)/2 = 1, while the pooled upper and lower are 1/2 each
	// and the center is 0. Both channels are constant: skewness 0.
	a := newAcc(t, tanhSpec, 2, DefaultOptions())
	x := fill(5, 2, 4, func(i, c, k int) float32 { return float32(1 - 2*c) })
	if err := a.Add(x, x, 5, 4); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, a.Metrics(), want{sat: 1, upper: 0.5, lower: 0.5, asym: 1, skew: 0, center: 0, sparsity: 0}, 0)
}

func TestReLUZeros(t *testing.T) {
	// ReLU is unbounded: only sparsity is reported. Of the 8 values, five
	// are 0, so with t = a the sparsity is 5/8 = 0.625.
	relu := LayerSpec{Name: "features.2", Activation: "relu", Placement: PlacementConventional, Lower: 0, Upper: math.Inf(1)}
	a := newAcc(t, relu, 2, DefaultOptions())
	x := []float32{0, 0, 0, 1.5, 0, 2, 0.3, 0} // n=2, C=2, hw=2
	if err := a.Add(x, x, 2, 2); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	nan := math.NaN()
	checkMetrics(t, m, want{nan, nan, nan, nan, nan, nan, 0.625}, 0)
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"saturation", "upper_fraction", "lower_fraction", "asymmetric_saturation", "skewness_abs_mean", "center"} {
		if !strings.Contains(string(js), `"`+f+`":null`) {
			t.Errorf("JSON %s lacks \"%s\":null", js, f)
		}
	}
	if !strings.Contains(string(js), `"sparsity":0.625`) {
		t.Errorf("JSON %s lacks \"sparsity\":0.625", js)
	}
}

func TestSaturationHandComputed(t *testing.T) {
	// z = 0.95, 0.91, 0.5, −0.1, 0.1, −0.95 in one channel.
	z := []float64{0.95, 0.91, 0.5, -0.1, 0.1, -0.95}
	// With 10 bins (index ⌊(z+1)·5⌋): 9, 9, 7, 4, 5, 0; bin sums 1.86,
	// 0.5, −0.1, 0.1, −0.95; φ = (1.86+0.5+0.1+0.1+0.95)/6 = 3.51/6 =
	// 0.585. Upper (z > 0.9): 0.95, 0.91 → 2/6; lower (z < −0.9): −0.95 →
	// 1/6; asym |2/6 − 1/6| = 1/6; center 1.41/6 = 0.235.
	//
	// Skewness: mean 0.235, deviations 0.715, 0.675, 0.265, −0.335,
	// −0.135, −1.185; m2 = 2.57175/6 = 0.428625, m3 = −1.01238/6 =
	// −0.16873 (sums of squares and cubes of the deviations), so
	// |g1| = 0.16873 / 0.428625^1.5 = 0.16873 / 0.280618 = 0.60128.
	a := newAcc(t, tanhSpec, 1, DefaultOptions())
	if err := a.AddFloat64(z, z, 6, 1); err != nil {
		t.Fatal(err)
	}
	// Sparsity: |t| ≤ 0.1 holds for −0.1 and 0.1 → 2/6.
	checkMetrics(t, a.Metrics(), want{sat: 0.585, upper: 2.0 / 6, lower: 1.0 / 6, asym: 1.0 / 6, skew: 0.60128, center: 0.235, sparsity: 2.0 / 6}, 1e-5)

	// With 5 bins (index ⌊(z+1)·2.5⌋): 4, 4, 3, 2, 2, 0. Bin 2 spans zero
	// and its −0.1 and 0.1 cancel: φ = (1.86 + 0.5 + 0 + 0.95)/6 = 3.31/6.
	o := DefaultOptions()
	o.Bins = 5
	a5 := newAcc(t, tanhSpec, 1, o)
	if err := a5.AddFloat64(z, z, 6, 1); err != nil {
		t.Fatal(err)
	}
	if m := a5.Metrics(); !near(*m.Saturation, 3.31/6, 1e-12) {
		t.Errorf("saturation with 5 bins = %v, want 3.31/6 = %v", *m.Saturation, 3.31/6)
	}
}

func TestBinEdges(t *testing.T) {
	// z = 1 belongs to the last bin and z = −1 to the first: with 1 bin
	// everything cancels, φ = |1 − 1|/2 = 0, while with 2 bins
	// φ = (1 + 1)/2 = 1. Tiny excursions are clamped for binning only:
	// z = 1 + 1e-12 lands in the last bin and still counts as > 1 − δ.
	for _, c := range []struct {
		bins int
		sat  float64
	}{{1, 0}, {2, 1}, {10, 1}} {
		o := DefaultOptions()
		o.Bins = c.bins
		a := newAcc(t, tanhSpec, 1, o)
		x := []float64{1 + 1e-12, -1 - 1e-12}
		if err := a.AddFloat64(x, x, 2, 1); err != nil {
			t.Fatal(err)
		}
		m := a.Metrics()
		if !near(*m.Saturation, c.sat, 1e-11) || *m.UpperFraction != 0.5 || *m.LowerFraction != 0.5 {
			t.Errorf("bins %d: saturation %v upper %v lower %v, want %v, 0.5, 0.5", c.bins, *m.Saturation, *m.UpperFraction, *m.LowerFraction, c.sat)
		}
	}
}

func TestLeCunTanhBounds(t *testing.T) {
	// LeCun's tanh 1.7159·tanh(2x/3) has bounds ±1.7159: a = 1.7159 maps
	// to z = 1 and a = −0.85795 to z = −0.5 (within float32 rounding).
	lecun := LayerSpec{Name: "fc1", Activation: "lecun_tanh", Placement: PlacementSwapped, Lower: -1.7159, Upper: 1.7159}
	a := newAcc(t, lecun, 1, DefaultOptions())
	x := []float32{1.7159, 1.7159, -0.85795, -0.85795}
	if err := a.Add(x, x, 4, 1); err != nil {
		t.Fatal(err)
	}
	// z = 1, 1, −0.5, −0.5: bins 9 (sum 2) and 2 (sum −1): φ = 3/4;
	// upper 1/2, lower 0, asym 1/2; center 1/4; two-point distribution
	// with equal weights: skewness 0. Sparsity 0 (|t| ≥ 0.86).
	checkMetrics(t, a.Metrics(), want{sat: 0.75, upper: 0.5, lower: 0, asym: 0.5, skew: 0, center: 0.25, sparsity: 0}, 1e-7)
}

func TestSigmoidBounds(t *testing.T) {
	// Sigmoid has bounds [0, 1]: z = 2a − 1, so a = 0.5 → z = 0 exactly,
	// a = 1 → 1, a = 0 → −1.
	sig := LayerSpec{Name: "fc2", Activation: "sigmoid", Placement: PlacementNone, Lower: 0, Upper: 1}
	a := newAcc(t, sig, 1, DefaultOptions())
	x := []float32{0.5, 0.5}
	if err := a.Add(x, x, 2, 1); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, a.Metrics(), want{sat: 0, upper: 0, lower: 0, asym: 0, skew: 0, center: 0, sparsity: 0}, 0)

	// Adding a = 1 and a = 0 (z = ±1): z = 0, 0, 1, −1; φ = (1 + 1)/4 =
	// 1/2, upper = lower = 1/4, center 0; symmetric: skewness 0; t = 0 is
	// sparse: 1/4.
	x = []float32{1, 0}
	if err := a.Add(x, x, 2, 1); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, a.Metrics(), want{sat: 0.5, upper: 0.25, lower: 0.25, asym: 0, skew: 0, center: 0, sparsity: 0.25}, 0)
}

func TestSwappedSparsityUsesNext(t *testing.T) {
	// In swapped order t is the BN output, not a. a is all 1 (never
	// sparse); t = −0.05, 0.1, 0.5, −2: the first two satisfy |t| ≤ 0.1
	// (the bound is inclusive, also for float32 0.1) → sparsity 1/2.
	s := tanhSpec
	s.Placement = PlacementSwapped
	a := newAcc(t, s, 2, DefaultOptions())
	act := []float32{1, 1, 1, 1}
	next := []float32{-0.05, 0.1, 0.5, -2}
	if err := a.Add(act, next, 2, 1); err != nil {
		t.Fatal(err)
	}
	if m := a.Metrics(); m.Sparsity != 0.5 || *m.Center != 1 {
		t.Errorf("sparsity %v center %v, want 0.5 and 1", m.Sparsity, *m.Center)
	}
}

func TestConstantChannelNoNaN(t *testing.T) {
	// A constant interior value (0.3) in several batches: variance 0, so
	// skewness 0 and not NaN; the mean is exactly 0.3 (float32).
	a := newAcc(t, tanhSpec, 3, DefaultOptions())
	for _, n := range []int{1, 3, 17} {
		x := fill(n, 3, 7, func(i, c, k int) float32 { return 0.3 })
		if err := a.Add(x, x, n, 7); err != nil {
			t.Fatal(err)
		}
	}
	for c, s := range a.ch {
		if s.mom.m2 != 0 || s.mom.m3 != 0 {
			t.Errorf("channel %d: m2 %v m3 %v, want exactly 0", c, s.mom.m2, s.mom.m3)
		}
	}
	m := a.Metrics()
	z := float64(float32(0.3))
	// Single bin 6 holds all values: φ = |N·z|/N = z.
	checkMetrics(t, m, want{sat: z, upper: 0, lower: 0, asym: 0, skew: 0, center: z, sparsity: 0}, 1e-15)
}

func TestZeroSampleLayer(t *testing.T) {
	// A layer that saw nothing reports nulls for the bounded metrics,
	// sparsity 0 and samples 0, and its report encodes to JSON.
	a := newAcc(t, tanhSpec, 4, DefaultOptions())
	if err := a.Add(nil, nil, 0, 1); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	m := a.Metrics()
	nan := math.NaN()
	checkMetrics(t, m, want{nan, nan, nan, nan, nan, nan, 0}, 0)
	if m.Samples != 0 {
		t.Errorf("samples = %d, want 0", m.Samples)
	}
	r := &Report{Options: DefaultOptions(), Layers: []LayerMetrics{m}}
	if err := r.WriteJSON(filepath.Join(t.TempDir(), "r.json")); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
}

func TestAddErrors(t *testing.T) {
	a := newAcc(t, tanhSpec, 2, DefaultOptions())
	ok := make([]float32, 2*2*3)
	for _, c := range []struct {
		name      string
		act, next []float32
		n, hw     int
		want      string
	}{
		{"act too short", ok[:11], ok, 2, 3, "length mismatch"},
		{"next too long", ok, append(ok, 0), 2, 3, "length mismatch"},
		{"negative n", ok, ok, -1, 3, "invalid batch shape"},
		{"zero hw", ok, ok, 2, 0, "invalid batch shape"},
		{"overflow", ok, ok, math.MaxInt / 2, 3, "overflows"},
		{"too many values per channel", ok, ok, 1 << 30, 2, "too large"},
	} {
		err := a.Add(c.act, c.next, c.n, c.hw)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"features.0"`) {
			t.Errorf("%s: error %v, want one naming the layer and %q", c.name, err, c.want)
		}
	}
	// A NaN activation is rejected and leaves the state untouched.
	if err := a.Add(ok, ok, 2, 3); err != nil {
		t.Fatal(err)
	}
	bad := append([]float32(nil), ok...)
	bad[4] = float32(math.NaN())
	if err := a.Add(bad, ok, 2, 3); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN activation: error %v", err)
	}
	bad[4] = float32(math.Inf(1))
	if err := a.Add(bad, ok, 2, 3); err == nil {
		t.Errorf("Inf activation accepted")
	}
	m := a.Metrics()
	if m.Samples != 6 || *m.Center != 0 || m.Sparsity != 1 {
		t.Errorf("after rejected batches: samples %d center %v sparsity %v, want 6, 0, 1", m.Samples, *m.Center, m.Sparsity)
	}
	if _, err := NewAccumulator(LayerSpec{Name: "x", Placement: PlacementNone, Lower: -1, Upper: 1}, DefaultOptions()); err == nil {
		t.Error("Channels 0 accepted")
	}
	if _, err := NewAccumulator(LayerSpec{Name: "x", Placement: PlacementNone, Channels: 1, Lower: -1, Upper: 1}, Options{}); err == nil || !strings.Contains(err.Error(), "Delta") {
		t.Errorf("zero options: error %v", err)
	}
}

// refChannel is the two-pass reference for one channel, in big.Float for
// the moments.
func refSkewness(zs []float64) float64 {
	const prec = 400
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(zs)))
	mean := new(big.Float).SetPrec(prec)
	for _, z := range zs {
		mean.Add(mean, big.NewFloat(z))
	}
	mean.Quo(mean, n)
	s2 := new(big.Float).SetPrec(prec)
	s3 := new(big.Float).SetPrec(prec)
	d := new(big.Float).SetPrec(prec)
	d2 := new(big.Float).SetPrec(prec)
	for _, z := range zs {
		d.Sub(big.NewFloat(z), mean)
		d2.Mul(d, d)
		s2.Add(s2, d2)
		s3.Add(s3, d2.Mul(d2, d))
	}
	m2, _ := s2.Quo(s2, n).Float64()
	m3, _ := s3.Quo(s3, n).Float64()
	if m2 == 0 {
		return 0
	}
	return m3 / (m2 * math.Sqrt(m2))
}

// reference computes every metric of a tanh layer from all z values per
// channel (zs[c]) and all t values.
func reference(zs [][]float64, ts []float64, opt Options) (want, []float64) {
	var w want
	C := float64(len(zs))
	N := float64(len(zs[0])) * C
	bins := make([]float64, opt.Bins)
	skews := make([]float64, len(zs))
	for c, ch := range zs {
		var up, down float64
		for _, z := range ch {
			zc := math.Max(-1, math.Min(1, z))
			k := min(int((zc+1)*float64(opt.Bins)/2), opt.Bins-1)
			bins[k] += z
			if z > 1-opt.Delta {
				up++
			}
			if z < -1+opt.Delta {
				down++
			}
			w.center += z / N
		}
		w.upper += up / N
		w.lower += down / N
		w.asym += math.Abs(up-down) / float64(len(ch)) / C
		skews[c] = refSkewness(ch)
		w.skew += math.Abs(skews[c]) / C
	}
	for _, b := range bins {
		w.sat += math.Abs(b) / N
	}
	for _, t := range ts {
		if math.Abs(t) <= opt.Tau {
			w.sparsity++
		}
	}
	w.sparsity /= N
	return w, skews
}

// clusteredValue draws channel c's value: values clustered within 1e-6 of
// ±1 in skewed shapes, a mixture of both ends, a constant, and a spread.
func clusteredValue(rng *rand.Rand, c int) float64 {
	u := rng.Float64()
	switch c % 6 {
	case 0:
		return 1 - 1e-6*u*u*u
	case 1:
		return -1 + 1e-6*u*u
	case 2:
		if rng.Float64() < 0.7 {
			return 1 - 1e-6*u
		}
		return -1 + 1e-6*u
	case 3:
		return 1
	case 4:
		return 2*u*u - 1 // spread over [−1, 1], skewness ≈ 0.64
	default:
		if rng.Float64() < 0.9 {
			return -1 + 1e-6*u
		}
		return 1 - 1e-6*u
	}
}

func TestStreamingMatchesTwoPass(t *testing.T) {
	const C, hw = 6, 5
	sizes := []int{1, 7, 64, 3, 1, 1, 200, 13, 1, 90}
	for _, prec := range []string{"float32", "float64"} {
		t.Run(prec, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 11))
			opt := DefaultOptions()
			opt.TopChannels = 3
			a := newAcc(t, tanhSpec, C, opt)
			zs := make([][]float64, C)
			ns := make([][]float64, C)
			var ts []float64
			for _, n := range sizes {
				act := make([]float64, n*C*hw)
				next := make([]float64, n*C*hw)
				for i := 0; i < n; i++ {
					for c := 0; c < C; c++ {
						for k := 0; k < hw; k++ {
							j := (i*C+c)*hw + k
							act[j] = clusteredValue(rng, c)
							next[j] = nextValue(rng, c, act[j])
						}
					}
				}
				var err error
				if prec == "float32" {
					a32, n32 := make([]float32, len(act)), make([]float32, len(act))
					for j := range act {
						a32[j], n32[j] = float32(act[j]), float32(next[j])
						act[j], next[j] = float64(a32[j]), float64(n32[j])
					}
					err = a.Add(a32, n32, n, hw)
				} else {
					err = a.AddFloat64(act, next, n, hw)
				}
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < n; i++ {
					for c := 0; c < C; c++ {
						zs[c] = append(zs[c], act[(i*C+c)*hw:(i*C+c)*hw+hw]...)
						ns[c] = append(ns[c], next[(i*C+c)*hw:(i*C+c)*hw+hw]...)
					}
				}
				ts = append(ts, next...)
			}
			if prec == "float32" {
				opt.Tau = float64(float32(opt.Tau))
			}
			w, skews := reference(zs, ts, opt)
			for c := range a.ch {
				got := a.ch[c].mom.skewness()
				if math.Abs(got-skews[c]) > 1e-9*math.Abs(skews[c]) {
					t.Errorf("channel %d: skewness %.17g, two-pass %.17g (rel err %.3g)", c, got, skews[c], math.Abs(got-skews[c])/math.Abs(skews[c]))
				}
				if c%6 == 3 && got != 0 {
					t.Errorf("constant channel %d: skewness %v, want 0", c, got)
				}
				if c%6 != 3 && math.Abs(skews[c]) < 0.1 {
					t.Errorf("channel %d: reference skewness %v is too small to test relative error", c, skews[c])
				}
			}
			m := a.Metrics()
			checkMetrics(t, m, w, 1e-12)
			checkChannelsAgainstReference(t, m, zs, ns, opt)
		})
	}
}

// nextValue draws channel c's next value: the activation itself (clustered
// near ±1) for even channels, else a wide normal that over- and
// underflows [−4, 4], with exact hits of ±4, 0 and ±τ.
func nextValue(rng *rand.Rand, c int, act float64) float64 {
	if c%2 == 0 {
		return act
	}
	if u := rng.Float64(); u < 0.05 {
		return []float64{-4, 4, 0, 0.1, -0.1}[int(u*100)]
	}
	return 1.6 * rng.NormFloat64()
}

// refMeanStd returns the mean and population standard deviation of xs,
// computed in two passes in big.Float.
func refMeanStd(xs []float64) (float64, float64) {
	const prec = 400
	n := new(big.Float).SetPrec(prec).SetInt64(int64(len(xs)))
	mean := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		mean.Add(mean, big.NewFloat(x))
	}
	mean.Quo(mean, n)
	s2 := new(big.Float).SetPrec(prec)
	d := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d.Sub(big.NewFloat(x), mean)
		s2.Add(s2, d.Mul(d, d))
	}
	m, _ := mean.Float64()
	v, _ := s2.Quo(s2, n).Float64()
	return m, math.Sqrt(v)
}

// refHistogram bins xs into bins equal bins over [lo, hi] with the
// documented rule: bin ⌊(x − lo)·s⌋, s = bins/(hi − lo), x = hi in the
// last bin; when clamp is set x is first clamped to [lo, hi], otherwise
// values outside are underflow and overflow.
func refHistogram(xs []float64, lo, hi float64, bins int, clamp bool) Histogram {
	h := Histogram{Lo: lo, Hi: hi, Counts: make([]int64, bins)}
	s := float64(bins) / (hi - lo)
	for _, x := range xs {
		if clamp {
			x = math.Max(lo, math.Min(hi, x))
		}
		switch {
		case x < lo:
			h.Underflow++
		case x > hi:
			h.Overflow++
		default:
			h.Counts[min(int((x-lo)*s), bins-1)]++
		}
	}
	return h
}

// checkChannelsAgainstReference compares every per-channel metric with a
// two-pass reference (1e-9 relative), every histogram count exactly, the
// pooled next statistics and the choice of the top channels.
func checkChannelsAgainstReference(t *testing.T, m LayerMetrics, zs, ns [][]float64, opt Options) {
	t.Helper()
	rel := func(name string, c int, got *float64, want float64) {
		t.Helper()
		if got == nil {
			t.Errorf("channel %d: %s is null, want %v", c, name, want)
			return
		}
		if math.Abs(*got-want) > 1e-9*math.Abs(want) {
			t.Errorf("channel %d: %s = %.17g, two-pass %.17g", c, name, *got, want)
		}
	}
	C := len(zs)
	if len(m.PerChannel) != C {
		t.Fatalf("per_channel has %d entries, want %d", len(m.PerChannel), C)
	}
	zPooled := make([]float64, 0)
	var nAll []float64
	absDiff := make([]float64, C)
	for c := 0; c < C; c++ {
		pc := m.PerChannel[c]
		N := float64(len(zs[c]))
		var up, down, sparse, center float64
		bins := make([]float64, opt.Bins)
		for _, z := range zs[c] {
			if z > 1-opt.Delta {
				up++
			}
			if z < -1+opt.Delta {
				down++
			}
			zc := math.Max(-1, math.Min(1, z))
			bins[min(int((zc+1)*float64(opt.Bins)/2), opt.Bins-1)] += z
			center += z
		}
		var sat float64
		for _, b := range bins {
			sat += math.Abs(b)
		}
		for _, v := range ns[c] {
			if math.Abs(v) <= opt.Tau {
				sparse++
			}
		}
		mean, std := refMeanStd(ns[c])
		zmean, _ := refMeanStd(zs[c])
		rel("upper_fraction", c, pc.UpperFraction, up/N)
		rel("lower_fraction", c, pc.LowerFraction, down/N)
		rel("skewness", c, pc.Skewness, refSkewness(zs[c]))
		rel("center", c, pc.Center, zmean)
		rel("saturation", c, pc.Saturation, sat/N)
		rel("sparsity", c, pc.Sparsity, sparse/N)
		rel("next_mean", c, pc.NextMean, mean)
		rel("next_std", c, pc.NextStd, std)
		if c%6 == 0 && !(std > 0 && std < 1e-5) {
			// next = a within 1e-6 of 1: the tiny spread tests the shift.
			t.Errorf("channel %d: reference next std %v is not the tiny spread near 1 meant to be tested", c, std)
		}
		absDiff[c] = math.Abs(up - down)
		zPooled = append(zPooled, zs[c]...)
		nAll = append(nAll, ns[c]...)
	}
	mean, std := refMeanStd(nAll)
	rel("layer next_mean", -1, m.NextMean, mean)
	rel("layer next_std", -1, m.NextStd, std)

	h := m.Histograms
	wantZ := refHistogram(zPooled, -1, 1, opt.HistBins, true)
	wantN := refHistogram(nAll, -opt.NextRange, opt.NextRange, opt.NextBins, false)
	if !reflect.DeepEqual(*h.Z, wantZ) {
		t.Errorf("pooled z histogram\n got %+v\nwant %+v", *h.Z, wantZ)
	}
	if !reflect.DeepEqual(*h.Next, wantN) {
		t.Errorf("pooled next histogram\n got %+v\nwant %+v", *h.Next, wantN)
	}
	if wantN.Underflow == 0 || wantN.Overflow == 0 || wantN.Counts[0] == 0 || wantN.Counts[len(wantN.Counts)-1] == 0 {
		t.Errorf("test data does not exercise the next histogram's edges: %+v", wantN)
	}

	// Top channels: largest |up − down|, ties by index.
	order := make([]int, C)
	for c := range order {
		order[c] = c
	}
	sort.SliceStable(order, func(i, j int) bool { return absDiff[order[i]] > absDiff[order[j]] })
	if len(h.TopChannels) != opt.TopChannels {
		t.Fatalf("%d top channels, want %d", len(h.TopChannels), opt.TopChannels)
	}
	for i, tc := range h.TopChannels {
		if tc.Channel != order[i] {
			t.Errorf("top channel %d is %d, want %d (order %v)", i, tc.Channel, order[i], order)
			continue
		}
		c := tc.Channel
		if wz := refHistogram(zs[c], -1, 1, opt.HistBins, true); !reflect.DeepEqual(*tc.Z, wz) {
			t.Errorf("channel %d z histogram\n got %+v\nwant %+v", c, *tc.Z, wz)
		}
		if wn := refHistogram(ns[c], -opt.NextRange, opt.NextRange, opt.NextBins, false); !reflect.DeepEqual(*tc.Next, wn) {
			t.Errorf("channel %d next histogram\n got %+v\nwant %+v", c, *tc.Next, wn)
		}
	}
}

func TestAccumulatorDeterministic(t *testing.T) {
	// The same batches in the same order give bit-identical metrics.
	run := func() LayerMetrics {
		rng := rand.New(rand.NewPCG(3, 4))
		a := newAcc(t, tanhSpec, 4, DefaultOptions())
		for _, n := range []int{5, 9, 2} {
			x := fill(n, 4, 3, func(i, c, k int) float32 { return float32(clusteredValue(rng, c)) })
			if err := a.Add(x, x, n, 3); err != nil {
				t.Fatal(err)
			}
		}
		return a.Metrics()
	}
	j1, _ := json.Marshal(run())
	j2, _ := json.Marshal(run())
	if string(j1) != string(j2) {
		t.Errorf("metrics differ between identical runs:\n%s\n%s", j1, j2)
	}
}

// BenchmarkAccumulatorAdd measures Add on one float32 batch of n = 128,
// C = 64, hw = 16·16 (tanh output, standard normal next) with every
// per-channel state enabled: moments, saturation bins, z histogram
// (HistBins 50) and next histogram (NextBins 80) for all channels.
func BenchmarkAccumulatorAdd(b *testing.B) {
	const n, C, hw = 128, 64, 16 * 16
	rng := rand.New(rand.NewPCG(1, 1))
	act := make([]float32, n*C*hw)
	next := make([]float32, n*C*hw)
	for i := range act {
		act[i] = float32(math.Tanh(2 * rng.NormFloat64()))
		next[i] = float32(rng.NormFloat64())
	}
	a := newAcc(b, LayerSpec{Name: "features.3", Activation: "tanh", Placement: PlacementSwapped, Lower: -1, Upper: 1}, C, DefaultOptions())
	b.SetBytes(int64(8 * len(act)))
	b.ResetTimer()
	for b.Loop() {
		if err := a.Add(act, next, n, hw); err != nil {
			b.Fatal(err)
		}
	}
}
