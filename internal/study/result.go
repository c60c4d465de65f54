package study

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/internal/atomicfile"
	"github.com/bnzoo/bnzoo/internal/provenance"
	"github.com/bnzoo/bnzoo/train"
)

// Status values of a Result.
const (
	StatusDone     = "done"
	StatusDiverged = "diverged" // the loss or a gradient became NaN or infinite; kept so reruns skip it
)

// Result is a finished grid point: its accuracies, the wall time, and the layer metrics of the final model on the
// test split. Its result.json is written last, so its presence means the point needs no more work.
//
// Every choice is made on the validation split (the best epoch, and across runs the learning rate, see
// ChooseLRs); the test split is evaluated once, after training: on the final model and on the checkpoint of the
// best validation epoch.
type Result struct {
	Point  Point  `json:"point"`
	Status string `json:"status"`
	// Detail says why a run diverged; empty otherwise.
	Detail       string `json:"detail,omitempty"`
	Dataset      string `json:"dataset"`
	TrainSamples int    `json:"train_samples"`
	ValSamples   int    `json:"val_samples"`
	TestSamples  int    `json:"test_samples"`
	Epochs       int    `json:"epochs"` // epochs trained
	// FinalValAcc is the last epoch's validation accuracy; BestValAcc the highest, at BestValEpoch (from 1).
	FinalValAcc  float64 `json:"final_val_acc"`
	BestValAcc   float64 `json:"best_val_acc"`
	BestValEpoch int     `json:"best_val_epoch"`
	// FinalTestAcc is the test accuracy of the final model (the study's headline number); BestValTestAcc that of
	// the checkpoint of the best validation epoch (early stopping chosen on validation data).
	FinalTestAcc   float64 `json:"final_test_acc"`
	BestValTestAcc float64 `json:"best_val_test_acc"`
	FinalLoss      float64 `json:"final_train_loss"`
	// TrainSeconds is the run's wall time (training, per-epoch validation and tracking, summed over resumed
	// sessions); TrackSeconds the part spent on the end-of-epoch analyses; AnalysisSeconds that of the final
	// analysis pass on the test split.
	TrainSeconds    float64 `json:"train_seconds"`
	TrackSeconds    float64 `json:"track_seconds"`
	AnalysisSeconds float64 `json:"analysis_seconds"`
	// Curve is the run's learning curve, one entry per epoch.
	Curve []CurvePoint `json:"curve"`
	// Provenance is what ran the point's last session (bnzoo's revision, Go, the kernels, the CPU); grid.json is
	// compared byte for byte when a study is reopened, so it lives here rather than there.
	Provenance *provenance.Info `json:"provenance,omitempty"`
	// Layers are the per-layer metrics of the final model (per-channel detail is in report.json) and Mean their
	// average over the layers (saturation fields only over the bounded layers; null when there are none).
	Layers []LayerSummary `json:"layers"`
	Mean   LayerSummary   `json:"mean"`
}

// CurvePoint is one epoch of a learning curve.
type CurvePoint struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	ValAcc    float64 `json:"val_acc"`
}

// LayerSummary is the part of analysis.LayerMetrics a study aggregates.
type LayerSummary struct {
	Name                 string   `json:"name"`
	Saturation           *float64 `json:"saturation"`
	AsymmetricSaturation *float64 `json:"asymmetric_saturation"`
	SkewnessAbsMean      *float64 `json:"skewness_abs_mean"`
	UpperFraction        *float64 `json:"upper_fraction"`
	LowerFraction        *float64 `json:"lower_fraction"`
	Sparsity             float64  `json:"sparsity"`
}

// summarizeLayers copies the report's layer metrics and averages them over the layers.
func summarizeLayers(rep *analysis.Report) (layers []LayerSummary, mean LayerSummary) {
	mean.Name = "mean"
	var sums [5]float64
	var counts [5]int
	for _, l := range rep.Layers {
		s := LayerSummary{Name: l.Name, Saturation: l.Saturation, AsymmetricSaturation: l.AsymmetricSaturation,
			SkewnessAbsMean: l.SkewnessAbsMean, UpperFraction: l.UpperFraction, LowerFraction: l.LowerFraction,
			Sparsity: l.Sparsity}
		layers = append(layers, s)
		for i, v := range []*float64{s.Saturation, s.AsymmetricSaturation, s.SkewnessAbsMean, s.UpperFraction, s.LowerFraction} {
			if v != nil {
				sums[i] += *v
				counts[i]++
			}
		}
		mean.Sparsity += l.Sparsity / float64(len(rep.Layers))
	}
	avg := func(i int) *float64 {
		if counts[i] == 0 {
			return nil
		}
		v := sums[i] / float64(counts[i])
		return &v
	}
	mean.Saturation, mean.AsymmetricSaturation, mean.SkewnessAbsMean = avg(0), avg(1), avg(2)
	mean.UpperFraction, mean.LowerFraction = avg(3), avg(4)
	return layers, mean
}

// fillHistory sets the validation, curve and time fields from a run's state.
func (r *Result) fillHistory(st train.RunState) {
	r.Epochs = len(st.History)
	r.Curve = nil
	r.TrackSeconds = 0
	for _, h := range st.History {
		r.Curve = append(r.Curve, CurvePoint{Epoch: h.Epoch, TrainLoss: h.TrainLoss, ValAcc: h.EvalAcc})
		r.TrackSeconds += h.TrackSeconds
	}
	if n := len(st.History); n > 0 {
		last := st.History[n-1]
		r.FinalValAcc, r.FinalLoss, r.TrainSeconds = last.EvalAcc, last.TrainLoss, last.TotalSeconds
	}
	if st.Best != nil {
		r.BestValAcc, r.BestValEpoch = st.Best.EvalAcc, st.Best.Epoch
	}
}

// WriteResult writes res to the run directory dir atomically.
func WriteResult(dir string, res *Result) error {
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ResultFile), err)
	}
	return atomicfile.Write(filepath.Join(dir, ResultFile), append(js, '\n'))
}

// ReadResult reads the result.json of the run directory dir; a missing file is reported with os.ErrNotExist.
func ReadResult(dir string) (*Result, error) {
	path := filepath.Join(dir, ResultFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s is not valid: %w", path, err)
	}
	if r.Status != StatusDone && r.Status != StatusDiverged {
		return nil, fmt.Errorf("%s: unknown status %q", path, r.Status)
	}
	return &r, nil
}
