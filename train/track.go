package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Track asks a run to follow how saturation develops: after every epoch the model is analysed (Trainer.Analyse)
// on a fixed, class-balanced subset of the evaluation split — the validation split when the run holds one out —
// and the per-layer metrics join the epoch's history, so they are checkpointed with it and a resumed run
// continues them without duplicates or gaps. A run directory shows them in metrics.jsonl.
type Track struct {
	// Samples is the size of the analysed subset: the first ⌈Samples/classes⌉ images of each class of the
	// evaluation split (fewer when a class has fewer).
	Samples int `json:"samples"`
	// Options are the analysis's δ, τ and bins (analysis.DefaultOptions when zero).
	Options analysis.Options `json:"options"`
}

// withDefaults fills in the analysis options.
func (k Track) withDefaults() Track {
	if k.Options == (analysis.Options{}) {
		k.Options = analysis.DefaultOptions()
	}
	return k
}

// Validate checks the subset size and the analysis options.
func (k Track) Validate() error {
	if k.Samples < 1 {
		return &ConfigError{Field: "track.samples", Reason: fmt.Sprintf("must be positive, got %d", k.Samples)}
	}
	if err := k.withDefaults().Options.Validate(); err != nil {
		return &ConfigError{Field: "track.options", Reason: err.Error()}
	}
	return nil
}

// LayerDynamics is one layer's metrics at the end of an epoch: the per-layer part of analysis.LayerMetrics, under
// the same JSON names as report.json (per-channel detail and histograms are left out).
type LayerDynamics struct {
	Name                 string   `json:"name"`
	Activation           string   `json:"activation"`
	Placement            string   `json:"placement"`
	Channels             int      `json:"channels"`
	Saturation           *float64 `json:"saturation"`
	UpperFraction        *float64 `json:"upper_fraction"`
	LowerFraction        *float64 `json:"lower_fraction"`
	AsymmetricSaturation *float64 `json:"asymmetric_saturation"`
	SkewnessAbsMean      *float64 `json:"skewness_abs_mean"`
	Center               *float64 `json:"center"`
	Sparsity             float64  `json:"sparsity"`
	Samples              int64    `json:"samples"`
	NextMean             *float64 `json:"next_mean"`
	NextStd              *float64 `json:"next_std"`
}

// trackSubset is the subset of eval that Track analyses (nil without Track or eval).
func trackSubset(k *Track, eval *datasets.Split) *datasets.Split {
	if k == nil || eval == nil || eval.N == 0 {
		return nil
	}
	if k.Samples >= eval.N {
		return eval // the whole split: its analysis pass is also its evaluation (see finishEpoch)
	}
	classes := max(len(eval.Classes), 1)
	return datasets.SubsetPerClass(eval, (k.Samples+classes-1)/classes)
}

// trackEpoch analyses the model on the tracked subset and records the layers in stats; it returns the evaluation
// result of that pass.
func (t *Trainer) trackEpoch(ctx context.Context, stats *EpochStats) (EvalResult, error) {
	if t.trackSplit == nil {
		return EvalResult{}, nil
	}
	start := time.Now()
	rep, ev, err := t.Analyse(ctx, t.trackSplit, t.Config.Track.withDefaults().Options, "")
	if err != nil {
		return ev, err
	}
	for _, l := range rep.Layers {
		stats.Layers = append(stats.Layers, LayerDynamics{Name: l.Name, Activation: l.Activation,
			Placement: l.Placement, Channels: l.Channels, Saturation: l.Saturation, UpperFraction: l.UpperFraction,
			LowerFraction: l.LowerFraction, AsymmetricSaturation: l.AsymmetricSaturation,
			SkewnessAbsMean: l.SkewnessAbsMean, Center: l.Center, Sparsity: l.Sparsity, Samples: l.Samples,
			NextMean: l.NextMean, NextStd: l.NextStd})
	}
	stats.TrackSeconds = time.Since(start).Seconds()
	return ev, nil
}

// MetricsLine is one line of a run directory's metrics.jsonl: a layer's metrics at the end of an epoch.
type MetricsLine struct {
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	LayerDynamics
}

// metricsJSONL is the run-directory file of the tracked metrics.
const metricsJSONL = "metrics.jsonl"

// writeMetrics rewrites dir/metrics.jsonl from the history atomically (nothing when no epoch was tracked).
func writeMetrics(dir string, history []EpochStats) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	any := false
	for _, h := range history {
		for _, l := range h.Layers {
			any = true
			if err := enc.Encode(MetricsLine{Epoch: h.Epoch, Step: h.Step, LayerDynamics: l}); err != nil {
				return fmt.Errorf("%s: epoch %d layer %s: %w", filepath.Join(dir, metricsJSONL), h.Epoch, l.Name, err)
			}
		}
	}
	if !any {
		return nil
	}
	return atomicfile.Write(filepath.Join(dir, metricsJSONL), b.Bytes())
}

// ReadMetrics reads a run directory's metrics.jsonl (os.ErrNotExist when the run tracks nothing).
func ReadMetrics(dir string) ([]MetricsLine, error) {
	raw, err := readFileBounded(filepath.Join(dir, metricsJSONL), 64<<20)
	if err != nil {
		return nil, err
	}
	var out []MetricsLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	for dec.More() {
		var l MetricsLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", filepath.Join(dir, metricsJSONL), len(out)+1, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// readFileBounded reads path, refusing a file larger than limit bytes before reading it.
func readFileBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a run's metrics can hold", path, st.Size(), limit)
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
