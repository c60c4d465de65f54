package analysis

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// ReportMeta describes the run a Report was measured on.
type ReportMeta struct {
	Model        string  `json:"model"`
	Dataset      string  `json:"dataset"`
	Activation   string  `json:"activation"`
	Placement    string  `json:"placement"`
	Seed         int64   `json:"seed"`
	TestAccuracy float64 `json:"test_accuracy"`
	// Samples is the number of evaluation samples (images) streamed.
	Samples int `json:"samples"`
}

// Report is the metrics of one model run. In JSON the fields of ReportMeta
// and Options are flattened into the top-level object next to "layers".
type Report struct {
	ReportMeta
	Options
	Layers []LayerMetrics `json:"layers"`
}

// Layer returns the metrics of the named layer.
func (r *Report) Layer(name string) (LayerMetrics, bool) {
	for _, l := range r.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return LayerMetrics{}, false
}

// checkFinite returns an error naming the first NaN or infinite number of
// the report, which JSON cannot represent.
func (r *Report) checkFinite() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(r.TestAccuracy) {
		return fmt.Errorf("test_accuracy is %v", r.TestAccuracy)
	}
	if bad(r.Delta) || bad(r.Tau) {
		return fmt.Errorf("options delta=%v tau=%v are not finite", r.Delta, r.Tau)
	}
	for _, l := range r.Layers {
		fields := []struct {
			name string
			v    *float64
		}{
			{"saturation", l.Saturation}, {"upper_fraction", l.UpperFraction},
			{"lower_fraction", l.LowerFraction}, {"asymmetric_saturation", l.AsymmetricSaturation},
			{"skewness_abs_mean", l.SkewnessAbsMean}, {"center", l.Center}, {"sparsity", &l.Sparsity},
		}
		for _, f := range fields {
			if f.v != nil && bad(*f.v) {
				return fmt.Errorf("layer %q: %s is %v", l.Name, f.name, *f.v)
			}
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON to path atomically: it writes
// a temporary file in the same directory, syncs it and renames it over path,
// so readers see either the old file or the complete new one. Errors name
// the path; a NaN or infinite number is an error naming its field.
func (r *Report) WriteJSON(path string) error {
	if r == nil {
		return fmt.Errorf("analysis: write report %s: nil report", path)
	}
	if err := r.checkFinite(); err != nil {
		return fmt.Errorf("analysis: write report %s: %w", path, err)
	}
	out := *r
	if out.Layers == nil {
		out.Layers = []LayerMetrics{} // "layers": [] rather than null
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return fmt.Errorf("analysis: write report %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("analysis: report: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteJSON. Errors name the path. The
// options are returned as stored, without validation.
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("analysis: read report %s: %w", path, err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("analysis: read report %s: %w", path, err)
	}
	return &r, nil
}
