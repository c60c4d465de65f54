package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
)

// trainedSynth returns a vgg_mini trained one epoch on synthetic 1×28×28 data (so that its BatchNorm statistics
// are not the initial ones), its trainer (evaluation batch 16) and a 37-sample test split (two full batches and
// a partial one).
func trainedSynth(t *testing.T, dt zoo.Dtype) (*zoo.Model, *Trainer, *datasets.Split) {
	t.Helper()
	m := synthModel(t, 10, [3]int{1, 28, 28}, dt)
	cfg := DefaultConfig()
	cfg.BatchSize, cfg.EvalBatchSize = 8, 16
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	if _, err := tr.Fit(context.Background(), synthSplit("synth/train", 40, 1, 28, 28, 10, 1), nil); err != nil {
		t.Fatal(err)
	}
	return m, tr, synthSplit("synth/test", 37, 1, 28, 28, 10, 2)
}

// TestPredictorMatchesEvaluate checks the Predictor against the trainer's evaluation pass with the same batch
// size: the same loss and accuracy bit for bit, top-5 at least top-1, and predictions, probabilities and batch
// logits that agree with the split's.
func TestPredictorMatchesEvaluate(t *testing.T) {
	for _, dt := range []zoo.Dtype{zoo.Float32, zoo.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			m, tr, te := trainedSynth(t, dt)
			ctx := context.Background()
			want, err := tr.Evaluate(ctx, te, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewPredictor(m, 16)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Evaluate(ctx, te, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("Predictor.Evaluate = %+v, Trainer.Evaluate = %+v", got, want)
			}
			acc, err := p.Accuracy(ctx, te)
			if err != nil {
				t.Fatal(err)
			}
			if acc.Top1 != want.Accuracy || acc.Loss != want.Loss || acc.Samples != 37 || acc.Top5 < acc.Top1 || acc.Top5 > 1 {
				t.Fatalf("Accuracy = %+v, evaluation %+v", acc, want)
			}
			out, err := p.Predict(ctx, te, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out.N != 37 || out.Classes != 10 || len(out.Logits) != 370 || !slices.Equal(out.Labels, te.Labels) {
				t.Fatalf("output N=%d classes=%d logits=%d labels %v", out.N, out.Classes, len(out.Logits), out.Labels)
			}
			// The mean cross-entropy recomputed from the logits in float64 is the graph's, to the dtype's precision.
			prob := out.Probabilities()
			var ce float64
			correct := 0
			for i, pred := range out.Predicted() {
				row := prob[i*10 : (i+1)*10]
				var sum float64
				for _, v := range row {
					sum += v
				}
				if math.Abs(sum-1) > 1e-12 || slices.Index(row, slices.Max(row)) != pred {
					t.Fatalf("sample %d: probabilities %v sum to %v, predicted %d", i, row, sum, pred)
				}
				ce -= math.Log(row[te.Labels[i]])
				if pred == te.Labels[i] {
					correct++
				}
			}
			tol := 1e-5
			if dt == zoo.Float64 {
				tol = 1e-12
			}
			if math.Abs(ce/37-want.Loss) > tol*want.Loss {
				t.Errorf("cross-entropy from the logits %v, graph's %v", ce/37, want.Loss)
			}
			if float64(correct)/37 != want.Accuracy {
				t.Errorf("accuracy from the predictions %v, evaluation's %v", float64(correct)/37, want.Accuracy)
			}
			// The first batch of the split alone gives the first rows.
			b, err := p.Logits(loaderBatch(t, te, 16))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Logits, out.Logits[:160]) || !slices.Equal(b.Labels, te.Labels[:16]) {
				t.Error("Logits of the first batch differ from the split's first rows")
			}
		})
	}
}

// TestPredictorSaveLoadIdentical saves a trained model, loads it with zoo.Load and predicts with no trainer: the
// logits are identical to the original model's.
func TestPredictorSaveLoadIdentical(t *testing.T) {
	for _, dt := range []zoo.Dtype{zoo.Float32, zoo.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			m, _, te := trainedSynth(t, dt)
			before := predictAll(t, m, te)
			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			loaded, err := zoo.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Dtype() != dt {
				t.Fatalf("loaded dtype %v, want %v", loaded.Dtype(), dt)
			}
			after := predictAll(t, loaded, te)
			if !slices.Equal(before.Logits, after.Logits) {
				t.Fatal("logits after save and load differ")
			}
			// And the same model untrained does differ: the comparison can fail.
			fresh := synthModel(t, 10, [3]int{1, 28, 28}, dt)
			if slices.Equal(predictAll(t, fresh, te).Logits, before.Logits) {
				t.Fatal("an untrained model gives the trained model's logits")
			}
		})
	}
}

func predictAll(t *testing.T, m *zoo.Model, s *datasets.Split) *Output {
	t.Helper()
	p, err := NewPredictor(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out, err := p.Predict(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPredictorReusesGraphs calls a Predictor repeatedly: no graph is compiled after the first call of each
// batch size and kind, the logits stay identical, taps come in the same pass without changing them, and a
// training step between calls is seen.
func TestPredictorReusesGraphs(t *testing.T) {
	m, tr, te := trainedSynth(t, zoo.Float32)
	ctx := context.Background()
	p, err := NewPredictor(m, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, err := p.Predict(ctx, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	compiled := map[passKey]*pass{}
	for k, v := range p.passes {
		compiled[k] = v
	}
	if len(compiled) != 2 { // 16 and the last 5
		t.Fatalf("%d graphs after the first call, want 2", len(compiled))
	}
	second, err := p.Predict(ctx, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range p.passes {
		if compiled[k] != v {
			t.Fatalf("graph %v was compiled again", k)
		}
	}
	if !slices.Equal(first.Logits, second.Logits) {
		t.Fatal("a second call gives other logits")
	}
	batches := 0
	tapped, err := p.Predict(ctx, te, func(taps *layers.Taps, b *datasets.Batch) error {
		batches++
		if len(taps.Units()) == 0 {
			t.Error("no tapped units")
		}
		_, err := taps.Value(taps.Units()[0].Name, layers.ActivationOutput)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if batches != 3 || !slices.Equal(tapped.Logits, first.Logits) {
		t.Fatalf("tapped pass: %d batches, logits equal %v", batches, slices.Equal(tapped.Logits, first.Logits))
	}
	if len(p.passes) != 4 {
		t.Fatalf("%d graphs after a tapped call, want 4", len(p.passes))
	}
	if _, _, err := tr.Step(loaderBatch(t, te, 8)); err != nil {
		t.Fatal(err)
	}
	third, err := p.Predict(ctx, te, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(third.Logits, first.Logits) {
		t.Fatal("the predictor does not see a training step")
	}
}

// TestOutput checks Row, Predicted, TopK (ties towards the lower class) and Probabilities on a hand-made output.
func TestOutput(t *testing.T) {
	o := &Output{N: 3, Classes: 3, Logits: []float64{
		1, 2, 3, // predicted 2
		5, 5, -1000, // tie: predicted 0
		1000, 0, -1000, // large logits
	}, Labels: []int{1, 1, 0}}
	if !slices.Equal(o.Row(1), []float64{5, 5, -1000}) || o.Row(3) != nil || o.Row(-1) != nil {
		t.Fatal("Row")
	}
	if !slices.Equal(o.Predicted(), []int{2, 0, 0}) {
		t.Fatalf("Predicted = %v", o.Predicted())
	}
	// Sample 0: label 1 is second; sample 1: label 1 ties with 0 and comes second; sample 2: first.
	if o.TopK(1) != 1.0/3 || o.TopK(2) != 1 || o.TopK(5) != 1 {
		t.Fatalf("TopK = %v %v %v", o.TopK(1), o.TopK(2), o.TopK(5))
	}
	p := o.Probabilities()
	if p[3] != 0.5 || p[4] != 0.5 || p[6] != 1 || p[8] != 0 || math.IsNaN(p[7]) {
		t.Fatalf("Probabilities = %v", p)
	}
	if (&Output{N: 1, Classes: 2, Logits: []float64{0, 1}}).TopK(1) != 0 {
		t.Fatal("TopK without labels should be 0")
	}
}
