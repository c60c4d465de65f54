package analysis

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

// smallOpts has histograms small enough to check by hand: z in 4 bins of
// width 0.5 over [−1, 1], next in 4 bins of width 1 over [−2, 2].
func smallOpts(top int) Options {
	return Options{Delta: 0.1, Tau: 0.1, Bins: 10, HistBins: 4, NextBins: 4, NextRange: 2, TopChannels: top}
}

func ptrIs(t *testing.T, name string, got *float64, want, tol float64) {
	t.Helper()
	switch {
	case math.IsNaN(want) && got != nil:
		t.Errorf("%s = %v, want null", name, *got)
	case math.IsNaN(want):
	case got == nil:
		t.Errorf("%s = null, want %v", name, want)
	case !near(*got, want, tol):
		t.Errorf("%s = %.17g, want %.17g", name, *got, want)
	}
}

func histIs(t *testing.T, name string, h *Histogram, lo, hi float64, counts []int64, under, over int64) {
	t.Helper()
	if h == nil {
		t.Errorf("%s is null", name)
		return
	}
	want := Histogram{Lo: lo, Hi: hi, Counts: counts, Underflow: under, Overflow: over}
	if !reflect.DeepEqual(*h, want) {
		t.Errorf("%s = %+v, want %+v", name, *h, want)
	}
}

func TestPerChannelHandComputed(t *testing.T) {
	// Two channels, n = 2 samples, hw = 2, laid out [n][C][hw], swapped.
	//   channel 0: z = 1, 1 | 0.5, −1      next = 0.05, −3 | 1.5, 2
	//   channel 1: z = 0, 0 | 0, 0         next = −0.1, 0.1 | 0.5, −2.5
	act := []float64{1, 1, 0, 0, 0.5, -1, 0, 0}
	next := []float64{0.05, -3, -0.1, 0.1, 1.5, 2, 0.5, -2.5}
	s := tanhSpec
	s.Placement = PlacementSwapped
	a := newAcc(t, s, 2, smallOpts(1))
	if err := a.AddFloat64(act, next, 2, 2); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	if len(m.PerChannel) != 2 || m.PerChannel[0].Index != 0 || m.PerChannel[1].Index != 1 {
		t.Fatalf("per_channel = %+v", m.PerChannel)
	}
	c0, c1 := m.PerChannel[0], m.PerChannel[1]

	// Channel 0. Upper (z > 0.9): 1, 1 → 2/4; lower (z < −0.9): −1 → 1/4;
	// center 1.5/4 = 0.375. Saturation bins (⌊(z+1)·5⌋): 9, 9, 7, 0 with
	// sums 2, 0.5, −1: φ = 3.5/4 = 0.875. Skewness: deviations from 0.375
	// are 0.625, 0.625, 0.125, −1.375; Σd² = 2.6875, Σd³ = −2.109375, so
	// m2 = 0.671875, m3 = −0.52734375 and g1 = m3 / m2^1.5 ≈ −0.95755.
	ptrIs(t, "c0 upper", c0.UpperFraction, 0.5, 0)
	ptrIs(t, "c0 lower", c0.LowerFraction, 0.25, 0)
	ptrIs(t, "c0 center", c0.Center, 0.375, 0)
	ptrIs(t, "c0 saturation", c0.Saturation, 0.875, 0)
	ptrIs(t, "c0 skewness", c0.Skewness, -0.52734375/math.Pow(0.671875, 1.5), 1e-14)
	if g := *c0.Skewness; !near(g, -0.95755, 1e-5) {
		t.Errorf("c0 skewness %v, hand value −0.95755", g)
	}
	// next of channel 0: |0.05| ≤ 0.1 → sparsity 1/4; mean 0.55/4 =
	// 0.1375; deviations −0.0875, −3.1375, 1.3625, 1.8625, squares sum
	// 15.176875, population std sqrt(15.176875/4).
	ptrIs(t, "c0 sparsity", c0.Sparsity, 0.25, 0)
	ptrIs(t, "c0 next_mean", c0.NextMean, 0.1375, 1e-15)
	ptrIs(t, "c0 next_std", c0.NextStd, math.Sqrt(15.176875/4), 1e-14)

	// Channel 1 is constant at z = 0: no saturation, skewness 0 (not
	// NaN), φ = |0|/4 = 0. next: −0.1 and 0.1 are sparse → 1/2; mean −0.5;
	// deviations 0.4, 0.6, 1, −2, squares sum 5.52.
	ptrIs(t, "c1 upper", c1.UpperFraction, 0, 0)
	ptrIs(t, "c1 lower", c1.LowerFraction, 0, 0)
	ptrIs(t, "c1 center", c1.Center, 0, 0)
	ptrIs(t, "c1 saturation", c1.Saturation, 0, 0)
	ptrIs(t, "c1 skewness", c1.Skewness, 0, 0)
	ptrIs(t, "c1 sparsity", c1.Sparsity, 0.5, 0)
	ptrIs(t, "c1 next_mean", c1.NextMean, -0.5, 1e-15)
	ptrIs(t, "c1 next_std", c1.NextStd, math.Sqrt(5.52/4), 1e-14)

	// Layer: pooled bins 2, 0.5, 0, −1 → φ = 3.5/8; upper 2/8, lower 1/8;
	// asym (1/4 + 0)/2; |skew| mean |g1_0|/2; center 0.375/2; sparsity 3/8;
	// next mean −1.45/8 and the pooled population std of the 8 values.
	g0 := math.Abs(*c0.Skewness)
	checkMetrics(t, m, want{sat: 3.5 / 8, upper: 0.25, lower: 0.125, asym: 0.125, skew: g0 / 2, center: 0.1875, sparsity: 0.375}, 1e-15)
	mean := -1.45 / 8
	var ss float64
	for _, v := range next {
		ss += (v - mean) * (v - mean)
	}
	ptrIs(t, "layer next_mean", m.NextMean, mean, 1e-15)
	ptrIs(t, "layer next_std", m.NextStd, math.Sqrt(ss/8), 1e-14)

	// z histograms (bin ⌊(z+1)·2⌋, z = 1 in the last bin): channel 0 →
	// 3, 3, 3, 0; channel 1 → 2 ×4. next histograms (bin ⌊t+2⌋, t = 2 in
	// the last bin, −3 and −2.5 underflow): channel 0 → 2, 3, 3 + 1
	// under; channel 1 → 1, 2, 2 + 1 under.
	h := m.Histograms
	histIs(t, "pooled z", h.Z, -1, 1, []int64{1, 0, 4, 3}, 0, 0)
	histIs(t, "pooled next", h.Next, -2, 2, []int64{0, 1, 3, 2}, 2, 0)
	if len(h.TopChannels) != 1 || h.TopChannels[0].Channel != 0 {
		t.Fatalf("top channels %+v, want channel 0 only (|2−1| > |0−0|)", h.TopChannels)
	}
	histIs(t, "channel 0 z", h.TopChannels[0].Z, -1, 1, []int64{1, 0, 0, 3}, 0, 0)
	histIs(t, "channel 0 next", h.TopChannels[0].Next, -2, 2, []int64{0, 0, 1, 2}, 1, 0)

	// With k larger than C every channel is kept, most asymmetric first.
	a2 := newAcc(t, s, 2, smallOpts(9))
	if err := a2.AddFloat64(act, next, 2, 2); err != nil {
		t.Fatal(err)
	}
	top := a2.Metrics().Histograms.TopChannels
	if len(top) != 2 || top[0].Channel != 0 || top[1].Channel != 1 {
		t.Fatalf("top channels with k=9: %+v", top)
	}
	histIs(t, "channel 1 z", top[1].Z, -1, 1, []int64{0, 0, 4, 0}, 0, 0)
	histIs(t, "channel 1 next", top[1].Next, -2, 2, []int64{0, 1, 2, 0}, 1, 0)
}

func TestTopChannelsTiesByIndex(t *testing.T) {
	// One sample per channel: |upper − lower| per channel is 0, 1, 1, 1,
	// 0 (channels 1 and 3 upper, channel 2 lower): the top 2 are the
	// tied channels 1 and 2, the top 4 add 3 and then 0.
	act := []float64{0, 1, -1, 1, 0.5}
	for _, c := range []struct {
		k    int
		want []int
	}{{1, []int{1}}, {2, []int{1, 2}}, {4, []int{1, 2, 3, 0}}} {
		a := newAcc(t, tanhSpec, 5, smallOpts(c.k))
		if err := a.AddFloat64(act, act, 1, 1); err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, tc := range a.Metrics().Histograms.TopChannels {
			got = append(got, tc.Channel)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("k=%d: top channels %v, want %v", c.k, got, c.want)
		}
	}
}

func TestUnboundedPerChannel(t *testing.T) {
	// ReLU: per channel only sparsity and the next statistics; no z
	// histograms and no top channels, but a pooled next histogram.
	relu := LayerSpec{Name: "features.2", Activation: "relu", Placement: PlacementConventional, Lower: 0, Upper: math.Inf(1)}
	a := newAcc(t, relu, 2, smallOpts(4))
	x := []float64{0, 0, 0, 1.5, 0, 2, 0.3, 5} // n=2, C=2, hw=2
	if err := a.AddFloat64(x, x, 2, 2); err != nil {
		t.Fatal(err)
	}
	m := a.Metrics()
	nan := math.NaN()
	for i, c := range m.PerChannel {
		for _, f := range []struct {
			name string
			v    *float64
		}{{"upper", c.UpperFraction}, {"lower", c.LowerFraction}, {"skewness", c.Skewness}, {"center", c.Center}, {"saturation", c.Saturation}} {
			ptrIs(t, f.name, f.v, nan, 0)
		}
		if c.Sparsity == nil || c.NextMean == nil || c.NextStd == nil {
			t.Errorf("channel %d: sparsity/next stats null: %+v", i, c)
		}
	}
	// Channel 0: 0, 0, 0, 2 → sparsity 3/4, mean 0.5; channel 1: 0, 1.5,
	// 0.3, 5 → sparsity 1/4, mean 6.8/4.
	ptrIs(t, "c0 sparsity", m.PerChannel[0].Sparsity, 0.75, 0)
	ptrIs(t, "c1 sparsity", m.PerChannel[1].Sparsity, 0.25, 0)
	ptrIs(t, "c0 next_mean", m.PerChannel[0].NextMean, 0.5, 1e-15)
	ptrIs(t, "c1 next_mean", m.PerChannel[1].NextMean, 1.7, 1e-15)
	if m.Histograms.Z != nil || len(m.Histograms.TopChannels) != 0 {
		t.Errorf("unbounded layer has z histograms: %+v", m.Histograms)
	}
	// next bins ⌊t+2⌋ over [−2, 2]: 0 ×4 → bin 2, 0.3 → 2, 1.5 → 3, 2 → 3
	// (upper edge), 5 → overflow.
	histIs(t, "pooled next", m.Histograms.Next, -2, 2, []int64{0, 0, 5, 2}, 0, 1)
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"upper_fraction":null,"lower_fraction":null,"skewness":null`) {
		t.Errorf("per-channel JSON lacks nulls: %s", js)
	}
}

func TestEmptyLayerNulls(t *testing.T) {
	// A layer that saw nothing: every per-channel value and every
	// histogram is null, no top channels.
	a := newAcc(t, tanhSpec, 3, DefaultOptions())
	m := a.Metrics()
	if len(m.PerChannel) != 3 {
		t.Fatalf("per_channel has %d entries, want 3", len(m.PerChannel))
	}
	for i, c := range m.PerChannel {
		if c != (ChannelMetrics{Index: i}) {
			t.Errorf("channel %d = %+v, want all null", i, c)
		}
	}
	if m.NextMean != nil || m.NextStd != nil {
		t.Errorf("next stats of an empty layer: %v %v", m.NextMean, m.NextStd)
	}
	if h := m.Histograms; h == nil || h.Z != nil || h.Next != nil || h.TopChannels == nil || len(h.TopChannels) != 0 {
		t.Errorf("histograms of an empty layer: %+v", h)
	}
}

func TestConstantChannelsEverywhere(t *testing.T) {
	// Constant channels at a bound, in the interior and in next: variance
	// 0 everywhere, skewness 0 and std 0 exactly, never NaN.
	a := newAcc(t, tanhSpec, 3, DefaultOptions())
	for _, n := range []int{2, 5} {
		act := fill(n, 3, 4, func(i, c, k int) float32 { return []float32{1, 0.3, -1}[c] })
		next := fill(n, 3, 4, func(i, c, k int) float32 { return 0.7 })
		if err := a.Add(act, next, n, 4); err != nil {
			t.Fatal(err)
		}
	}
	m := a.Metrics()
	for _, c := range m.PerChannel {
		if c.Skewness == nil || *c.Skewness != 0 || c.NextStd == nil || *c.NextStd != 0 {
			t.Errorf("channel %d: skewness %v next std %v, want 0 and 0", c.Index, c.Skewness, c.NextStd)
		}
		if *c.NextMean != float64(float32(0.7)) {
			t.Errorf("channel %d: next mean %v", c.Index, *c.NextMean)
		}
	}
	if *m.SkewnessAbsMean != 0 || *m.NextStd != 0 {
		t.Errorf("layer skewness %v next std %v, want 0", *m.SkewnessAbsMean, *m.NextStd)
	}
	js, _ := json.Marshal(m)
	if strings.Contains(string(js), "NaN") || strings.Contains(string(js), "Inf") {
		t.Errorf("JSON has NaN/Inf: %s", js)
	}
}

func TestNextNaNRejected(t *testing.T) {
	// A NaN or infinite next value is an error naming the layer and
	// channel and leaves everything (histograms included) unchanged.
	a := newAcc(t, tanhSpec, 2, smallOpts(2))
	ok := []float32{0.5, -0.5, 0.25, 0}
	if err := a.Add(ok, ok, 2, 1); err != nil {
		t.Fatal(err)
	}
	before := a.Metrics()
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		next := []float32{0.5, -0.5, 0.25, bad}
		err := a.Add(ok, next, 2, 1)
		if err == nil || !strings.Contains(err.Error(), `"features.0"`) || !strings.Contains(err.Error(), "channel 1") {
			t.Errorf("next %v: error %v", bad, err)
		}
	}
	// A NaN activation after a valid next batch also leaves no trace.
	badAct := []float32{0.5, float32(math.NaN()), 0.25, 0}
	if err := a.Add(badAct, ok, 2, 1); err == nil {
		t.Error("NaN activation accepted")
	}
	if after := a.Metrics(); !reflect.DeepEqual(before, after) {
		t.Errorf("rejected batches changed the metrics:\n%+v\n%+v", before, after)
	}
	// The next valid batch counts exactly once (scratch was cleared).
	if err := a.Add(ok, ok, 2, 1); err != nil {
		t.Fatal(err)
	}
	if got := a.Metrics().Histograms.Next.Total(); got != 8 {
		t.Errorf("next histogram total %d after two valid batches, want 8", got)
	}
}
