package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	want := Options{Delta: 0.1, Tau: 0.1, Bins: 10, HistBins: 50, NextBins: 80, NextRange: 4, TopChannels: 4}
	if o != want {
		t.Fatalf("DefaultOptions() = %+v, want %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		opt   Options
		field string
	}{
		{Options{Delta: 0, Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: 1, Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: math.NaN(), Tau: 0.1, Bins: 10}, "Delta"},
		{Options{Delta: 0.1, Tau: -0.01, Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: math.NaN(), Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: math.Inf(1), Bins: 10}, "Tau"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 0}, "Bins"},
		{Options{}, "Delta"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, HistBins: -1}, "HistBins"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, HistBins: 1 << 20}, "HistBins"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, NextBins: -3}, "NextBins"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, NextRange: -1}, "NextRange"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, NextRange: math.Inf(1)}, "NextRange"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, NextRange: math.NaN()}, "NextRange"},
		{Options{Delta: 0.1, Tau: 0.1, Bins: 10, TopChannels: -1}, "TopChannels"},
	}
	for _, c := range cases {
		err := c.opt.Validate()
		if err == nil || !strings.Contains(err.Error(), "Options."+c.field) {
			t.Errorf("%+v: error %v, want one naming Options.%s", c.opt, err, c.field)
		}
	}
	// Tau 0 (exact zeros only) and a single bin are valid.
	if err := (Options{Delta: 0.5, Tau: 0, Bins: 1}).Validate(); err != nil {
		t.Errorf("Tau 0, Bins 1: %v", err)
	}
}

func TestZeroHistogramOptionsTakeDefaults(t *testing.T) {
	// Options written before the histogram fields existed (as in
	// examples/swapstudy) are valid, and a collector's report records the
	// defaults it used.
	old := Options{Delta: 0.2, Tau: 0.05, Bins: 10}
	if err := old.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := NewCollector(testSpecs(), old)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Report(ReportMeta{})
	want := Options{Delta: 0.2, Tau: 0.05, Bins: 10, HistBins: DefaultHistBins, NextBins: DefaultNextBins,
		NextRange: DefaultNextRange, TopChannels: DefaultTopChannels}
	if r.Options != want {
		t.Errorf("report options %+v, want %+v", r.Options, want)
	}
	a, _ := c.Layer("features.0")
	if a.Options() != want {
		t.Errorf("accumulator options %+v", a.Options())
	}
	// Non-default histogram options are kept and shape the histograms.
	o := DefaultOptions()
	o.HistBins, o.NextBins, o.NextRange, o.TopChannels = 8, 6, 3, 1
	c, err = NewCollector(testSpecs(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add("features.0", []float32{1, -1, 0.5, 0}, []float32{0, 5, 1, -1}, 2, 1); err != nil {
		t.Fatal(err)
	}
	h := c.Report(ReportMeta{}).Layers[0].Histograms
	if len(h.Z.Counts) != 8 || len(h.Next.Counts) != 6 || h.Next.Lo != -3 || h.Next.Hi != 3 || h.Next.Overflow != 1 || len(h.TopChannels) != 1 {
		t.Errorf("histograms %+v", h)
	}
}
