package analysis

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSampleOutputs writes sample report and comparison directories of the
// synthetic model for a look at the figures, when ANALYSIS_SAMPLE_OUT names
// a directory:
//
//	ANALYSIS_SAMPLE_OUT=/tmp/analysis-sample go test -run TestSampleOutputs ./analysis/
func TestSampleOutputs(t *testing.T) {
	out := os.Getenv("ANALYSIS_SAMPLE_OUT")
	if out == "" {
		t.Skip("set ANALYSIS_SAMPLE_OUT to write sample outputs")
	}
	conv := synthReport(t, PlacementConventional, 1)
	swap := synthReport(t, PlacementSwapped, 2)
	for _, d := range []struct {
		name string
		r    *Report
	}{{"conventional", conv}, {"swapped", swap}} {
		if err := WriteReportDir(filepath.Join(out, d.name), d.r); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteComparisonDir(filepath.Join(out, "comparison"), []*Report{conv, swap}, []string{"conventional", "swapped"}); err != nil {
		t.Fatal(err)
	}
	relu := &Report{Options: DefaultOptions(), Layers: []LayerMetrics{{Name: "fc", Activation: "relu", Sparsity: 0.5, Samples: 3}}}
	if err := WriteReportDir(filepath.Join(out, "relu_only"), relu); err != nil {
		t.Fatal(err)
	}
}
