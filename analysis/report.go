package analysis

import (
	"github.com/bnzoo/bnzoo/internal/provenance"

	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

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
	// Provenance is what produced the report (bnzoo's revision, Go, the kernels, the CPU); nil in reports
	// written before it existed and in reports built outside a training package.
	Provenance *provenance.Info `json:"provenance,omitempty"`
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
	if bad(r.Delta) || bad(r.Tau) || bad(r.NextRange) {
		return fmt.Errorf("options delta=%v tau=%v next_range=%v are not finite", r.Delta, r.Tau, r.NextRange)
	}
	type field struct {
		name string
		v    *float64
	}
	check := func(where string, fields []field) error {
		for _, f := range fields {
			if f.v != nil && bad(*f.v) {
				return fmt.Errorf("%s: %s is %v", where, f.name, *f.v)
			}
		}
		return nil
	}
	for _, l := range r.Layers {
		where := fmt.Sprintf("layer %q", l.Name)
		if err := check(where, []field{
			{"saturation", l.Saturation}, {"upper_fraction", l.UpperFraction},
			{"lower_fraction", l.LowerFraction}, {"asymmetric_saturation", l.AsymmetricSaturation},
			{"skewness_abs_mean", l.SkewnessAbsMean}, {"center", l.Center}, {"sparsity", &l.Sparsity},
			{"next_mean", l.NextMean}, {"next_std", l.NextStd},
		}); err != nil {
			return err
		}
		for _, c := range l.PerChannel {
			if err := check(fmt.Sprintf("%s channel %d", where, c.Index), []field{
				{"upper_fraction", c.UpperFraction}, {"lower_fraction", c.LowerFraction},
				{"skewness", c.Skewness}, {"center", c.Center}, {"saturation", c.Saturation},
				{"sparsity", c.Sparsity}, {"next_mean", c.NextMean}, {"next_std", c.NextStd},
			}); err != nil {
				return err
			}
		}
		if h := l.Histograms; h != nil {
			hists := []field{}
			add := func(name string, x *Histogram) {
				if x != nil {
					hists = append(hists, field{name + ".lo", &x.Lo}, field{name + ".hi", &x.Hi})
				}
			}
			add("histograms.z", h.Z)
			add("histograms.next", h.Next)
			for _, tc := range h.TopChannels {
				add(fmt.Sprintf("histograms.top_channels[%d].z", tc.Channel), tc.Z)
				add(fmt.Sprintf("histograms.top_channels[%d].next", tc.Channel), tc.Next)
			}
			if err := check(where, hists); err != nil {
				return err
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
	if err := r.checkComplete(); err != nil {
		return nil, fmt.Errorf("analysis: read report %s: %w: not a report written by WriteJSON", path, err)
	}
	return &r, nil
}

// checkComplete returns an error naming the first key a report read from a file lacks. Any JSON object
// unmarshals into a Report, so "{}" was accepted and failed much later, in a figure ("label 1 is empty").
func (r *Report) checkComplete() error {
	for _, f := range []struct{ key, v string }{{"model", r.Model}, {"activation", r.Activation}, {"placement", r.Placement}} {
		if strings.TrimSpace(f.v) == "" {
			return fmt.Errorf("%q is missing or empty", f.key)
		}
	}
	if r.Samples < 1 {
		return fmt.Errorf("\"samples\" must be positive, got %d", r.Samples)
	}
	if len(r.Layers) == 0 {
		return fmt.Errorf("\"layers\" is missing or empty")
	}
	for i, l := range r.Layers {
		if strings.TrimSpace(l.Name) == "" {
			return fmt.Errorf("layer %d has no name", i)
		}
	}
	return nil
}
