package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// TestTrackedMetricsSurviveInterruption trains the tiny run with Track straight through and interrupted at three
// places (mid-epoch 1, after epoch 1's last step but before its evaluation and analysis, mid-epoch 2), resumes, and
// requires metrics.jsonl to be byte-identical to the straight run's: one line per epoch and layer, no duplicate
// and no gap.
func TestTrackedMetricsSurviveInterruption(t *testing.T) {
	tr, te := tinySplits(t)
	rc := tinyRun(OptimizerSGD)
	rc.Train.Track = &Track{Samples: 1000} // more than the 60 evaluation images: the whole split
	straight := t.TempDir()
	r, err := NewRun(straight, rc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(straight, metricsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ReadMetrics(straight)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Name)
		if l.Samples == 0 || l.AsymmetricSaturation == nil || l.Channels == 0 {
			t.Fatalf("metrics line without metrics: %+v", l)
		}
	}
	layers := []string{"features.0", "features.1", "features.2"}
	if !slices.Equal(got, append(append([]string(nil), layers...), layers...)) || lines[0].Epoch != 1 || lines[5].Epoch != 2 {
		t.Fatalf("metrics.jsonl holds %v (epochs %d…%d), want the 3 layers of epochs 1 and 2", got, lines[0].Epoch, lines[len(lines)-1].Epoch)
	}
	// The tracked pass over the whole evaluation split is its evaluation: the same loss and accuracy as Evaluate.
	ev, err := r.Trainer.Evaluate(context.Background(), te, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := r.Trainer.State()
	if last := st.History[len(st.History)-1]; last.EvalAcc != ev.Accuracy || last.EvalLoss != ev.Loss || last.TrackSeconds <= 0 {
		t.Fatalf("last epoch: eval %v/%v tracked in %v s; Evaluate gives %v/%v", last.EvalLoss, last.EvalAcc,
			last.TrackSeconds, ev.Loss, ev.Accuracy)
	}
	r.Close()

	for _, step := range []int{3, 5, 7} {
		dir := t.TempDir()
		r, err := NewRun(dir, rc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		r.Trainer.hooks.afterStep = func(tr *Trainer) {
			if tr.state.GlobalStep == step {
				stop()
			}
		}
		_, err = r.Fit(ctx, tr, te)
		stop()
		r.Close()
		var ie *InterruptedError
		if !errors.As(err, &ie) {
			t.Fatalf("step %d: %v, want an interruption", step, err)
		}
		resumeToEnd(t, dir)
		have, err := os.ReadFile(filepath.Join(dir, metricsJSONL))
		if err != nil || string(have) != string(want) {
			t.Fatalf("interrupted at step %d: metrics.jsonl\n%s\nwant\n%s (%v)", step, have, want, err)
		}
	}
}

// TestTrackSubsetIsEvaluatedApart tracks a class-balanced subset smaller than the evaluation split: the epoch's
// evaluation still covers the whole split.
func TestTrackSubsetIsEvaluatedApart(t *testing.T) {
	tr, te := tinySplits(t)
	rc := tinyRun(OptimizerSGD)
	rc.Train.Epochs = 1
	rc.Train.Track = &Track{Samples: 20}
	r, err := NewRun(t.TempDir(), rc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	if r.Trainer.trackSplit == te || r.Trainer.trackSplit.N < 10 || r.Trainer.trackSplit.N > 20 {
		t.Fatalf("tracked subset of %d images, want a 2-per-class subset of the 60", r.Trainer.trackSplit.N)
	}
	ev, err := r.Trainer.Evaluate(context.Background(), te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Trainer.State().History[0]; h.EvalAcc != ev.Accuracy || len(h.Layers) != 3 || h.Layers[0].Samples != int64(r.Trainer.trackSplit.N)*49 {
		t.Fatalf("epoch: eval acc %v with %d layers of %d values, want %v and 3 layers of %d", h.EvalAcc, len(h.Layers),
			h.Layers[0].Samples, ev.Accuracy, r.Trainer.trackSplit.N*49)
	}
}

func TestTrackValidate(t *testing.T) {
	c := DefaultConfig()
	c.Track = &Track{Samples: 0}
	var ce *ConfigError
	if err := c.Validate(); !errors.As(err, &ce) || ce.Field != "track.samples" {
		t.Fatalf("samples 0: %v, want a track.samples error", err)
	}
}

// TestReportCarriesProvenance: a report says what produced it, and keeps it through report.json.
func TestReportCarriesProvenance(t *testing.T) {
	_, te := tinySplits(t)
	rc := tinyRun(OptimizerSGD)
	m, err := zoo.New(rc.Model, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, rc.Train)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rep, _, err := tr.Analyse(context.Background(), te, analysis.DefaultOptions(), "mnist")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	if err := rep.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := analysis.ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := back.Provenance; p == nil || p.GoVersion != runtime.Version() || p.Backend == "" || p.GOMAXPROCS < 1 {
		t.Fatalf("report.json provenance %+v, want this process's Go version, backend and GOMAXPROCS", p)
	}
}
