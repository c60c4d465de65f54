package analysis

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func tableReports() (*Report, *Report) {
	conv := &Report{
		ReportMeta: ReportMeta{Model: "vgg11", Activation: "tanh", Placement: PlacementConventional},
		Options:    DefaultOptions(),
		Layers: []LayerMetrics{
			{Name: "features.0", Saturation: f64(0.81234), AsymmetricSaturation: f64(0.25), SkewnessAbsMean: f64(1.23456), Sparsity: 0.0312},
			{Name: "features.3", Saturation: f64(0.9), AsymmetricSaturation: f64(0.5), SkewnessAbsMean: f64(2), Sparsity: 0.01},
			{Name: "classifier.0", Sparsity: 0.5}, // unbounded: nulls
		},
	}
	swap := &Report{
		ReportMeta: ReportMeta{Model: "vgg11", Activation: "tanh", Placement: PlacementSwapped},
		Options:    DefaultOptions(),
		Layers: []LayerMetrics{
			{Name: "features.0", Saturation: f64(0.41), AsymmetricSaturation: f64(0.05), SkewnessAbsMean: f64(0.3), Sparsity: 0.25},
			{Name: "classifier.0", Sparsity: 0.125},
			{Name: "extra.1", Saturation: f64(0.5), AsymmetricSaturation: f64(0), SkewnessAbsMean: f64(0), Sparsity: 0},
		},
	}
	return conv, swap
}

func TestFormatTableSideBySide(t *testing.T) {
	conv, swap := tableReports()
	var buf bytes.Buffer
	if err := FormatTable(&buf, conv, swap); err != nil {
		t.Fatal(err)
	}
	// Rows in first-appearance order; features.3 is missing from the
	// swapped report and extra.1 from the conventional one ("-"); numbers
	// with four decimals (0.81234 → 0.8123, 1.23456 → 1.2346).
	want := "" +
		"              conventional                      swapped\n" +
		"layer         sat     asym    |skew|  sparsity  sat     asym    |skew|  sparsity\n" +
		"features.0    0.8123  0.2500  1.2346  0.0312    0.4100  0.0500  0.3000  0.2500\n" +
		"features.3    0.9000  0.5000  2.0000  0.0100    -       -       -       -\n" +
		"classifier.0  -       -       -       0.5000    -       -       -       0.1250\n" +
		"extra.1       -       -       -       -         0.5000  0.0000  0.0000  0.0000\n"
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestFormatTableLabels(t *testing.T) {
	conv, swap := tableReports()
	// Equal placements: labelled by Model/Activation.
	swap.Placement = PlacementConventional
	swap.Activation = "lecun_tanh"
	var buf bytes.Buffer
	if err := FormatTable(&buf, conv, swap); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	if strings.TrimSpace(first) != "vgg11/tanh                        vgg11/lecun_tanh" {
		t.Errorf("label line %q", first)
	}
	// Identical reports get an index.
	buf.Reset()
	if err := FormatTable(&buf, conv, conv); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "vgg11/tanh/conventional#1") || !strings.Contains(buf.String(), "vgg11/tanh/conventional#2") {
		t.Errorf("identical reports:\n%s", buf.String())
	}
	// One report: labelled by its placement.
	buf.Reset()
	if err := FormatTable(&buf, conv); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "              conventional\n") {
		t.Errorf("single report:\n%s", buf.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFormatTableErrors(t *testing.T) {
	conv, _ := tableReports()
	if err := FormatTable(failWriter{}, conv); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: error %v", err)
	}
	if err := FormatTable(&bytes.Buffer{}, conv, nil); err == nil {
		t.Error("nil report accepted")
	}
}
