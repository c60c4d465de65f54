package train

import (
	"context"
	"fmt"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/machine"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// DefaultPredictBatch is the batch size of a Predictor made with batch size 0.
const DefaultPredictBatch = 128

// Predictor runs a model forward in evaluation mode (running BatchNorm statistics, no dropout) and returns what
// it computes: logits and probabilities for a batch or a whole split, top-1 and top-5 accuracy, the per-layer
// analysis. It needs no training recipe, so a model built with zoo.New or loaded with zoo.Load is evaluated as
// it is. It lives in train, not in a package of its own, because it runs the very graphs a Trainer evaluates
// with (same compiled pass, same machine, same batch loading), so its logits, loss and accuracy are those of
// Trainer.Evaluate with the same batch size, bit for bit.
//
// A Predictor compiles one graph per batch size and keeps it for later calls (a tapped graph apart); Close
// releases them. The model's weights and statistics are read at every call, so a Predictor sees training that
// happens between calls. It is not safe for concurrent use.
type Predictor struct {
	Model *zoo.Model
	// Fuse runs the untapped graphs fused, as Config.FuseEvaluation does for a Trainer (set it before the first
	// call; graphs already compiled keep what they were built with).
	Fuse      bool
	batchSize int
	passes    map[passKey]*pass
	pool      *machine.Pool
}

// NewPredictor returns a Predictor over m that splits a split into batches of batchSize samples (0 means
// DefaultPredictBatch; the last batch may be smaller). A nil model, a model whose parameters are neither float32
// nor float64, or a negative batch size is an error.
func NewPredictor(m *zoo.Model, batchSize int) (*Predictor, error) {
	if err := checkModel(m); err != nil {
		return nil, err
	}
	if batchSize < 0 {
		return nil, fmt.Errorf("predictor: batch size must not be negative, got %d", batchSize)
	}
	if batchSize == 0 {
		batchSize = DefaultPredictBatch
	}
	return &Predictor{Model: m, batchSize: batchSize, passes: map[passKey]*pass{}, pool: machine.NewPool()}, nil
}

// BatchSize returns the number of samples per batch of a split.
func (p *Predictor) BatchSize() int { return p.batchSize }

// Close releases the compiled graphs; the Predictor can still be used (it compiles them again).
func (p *Predictor) Close() {
	for _, ps := range p.passes {
		ps.close()
	}
	p.passes = map[passKey]*pass{}
}

// graph returns the evaluation graph for n samples, with or without taps, compiling it on first use.
func (p *Predictor) graph(n int, taps bool) (*pass, error) {
	k := passKey{n: n}
	if taps {
		k.n = -n // negative size marks the tapped variant, as in Trainer.evalPass
	}
	if ps, ok := p.passes[k]; ok {
		return ps, nil
	}
	ps, err := newPass(p.Model, n, zoo.BuildOptions{Taps: taps, Fuse: p.Fuse && !taps}, p.pool)
	if err != nil {
		return nil, err
	}
	p.passes[k] = ps
	return ps, nil
}

// Logits runs one batch (of any size; each size gets its own compiled graph) and returns its logits. When the
// batch has a label per sample they are checked against the model's classes and kept in the Output. A batch that
// does not fit the model is an *InputError.
func (p *Predictor) Logits(b *datasets.Batch) (*Output, error) {
	labelled := b != nil && len(b.Y) >= b.N
	if err := checkBatch(p.Model, b, labelled); err != nil {
		return nil, err
	}
	out := &Output{Classes: p.Model.Config.Classes}
	if _, err := p.runBatch(b, labelled, false, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Predict runs every sample of split, in order, and returns their logits and labels. When visit is not nil the
// graphs are built with taps and visit sees each batch's taps in the same pass. A split that does not fit the
// model (sample shape, labels) is an *InputError, returned before anything runs.
func (p *Predictor) Predict(ctx context.Context, split *datasets.Split, visit TapVisitor) (*Output, error) {
	out, _, err := p.predict(ctx, split, visit)
	return out, err
}

// Evaluate is Trainer.Evaluate without a trainer: the mean cross-entropy (as the graph computes it) and the top-1
// accuracy over every sample of split, with visit (when not nil) called after each batch with its taps.
func (p *Predictor) Evaluate(ctx context.Context, split *datasets.Split, visit TapVisitor) (EvalResult, error) {
	out, lossSum, err := p.predict(ctx, split, visit)
	if err != nil {
		return EvalResult{}, err
	}
	return EvalResult{Loss: lossSum / float64(out.N), Accuracy: out.TopK(1), Samples: out.N}, nil
}

// Accuracy is a split's top-1 and top-5 accuracy and mean loss.
type Accuracy struct {
	Top1    float64 `json:"top1"`    // fraction of samples whose label has the highest logit (the first, on ties)
	Top5    float64 `json:"top5"`    // fraction whose label is among the five highest (all of them with ≤ 5 classes)
	Loss    float64 `json:"loss"`    // mean cross-entropy, as the graph computes it
	Samples int     `json:"samples"` // every sample of the split
}

// Accuracy runs every sample of split and returns the top-1 and top-5 accuracy and the mean loss.
func (p *Predictor) Accuracy(ctx context.Context, split *datasets.Split) (Accuracy, error) {
	out, lossSum, err := p.predict(ctx, split, nil)
	if err != nil {
		return Accuracy{}, err
	}
	return Accuracy{Top1: out.TopK(1), Top5: out.TopK(5), Loss: lossSum / float64(out.N), Samples: out.N}, nil
}

// Analyse is Trainer.Analyse without a trainer: the per-layer report of the model on split (see Trainer.Analyse)
// and the evaluation result.
func (p *Predictor) Analyse(ctx context.Context, split *datasets.Split, opt analysis.Options, dataset string) (*analysis.Report, EvalResult, error) {
	if err := checkSplit(p.Model, split, true); err != nil {
		return nil, EvalResult{}, err
	}
	return analyse(ctx, p.Model, split, opt, dataset, p.Evaluate)
}

// predict runs split in batches and returns the output and the summed loss (Σ batch mean loss × batch size).
func (p *Predictor) predict(ctx context.Context, split *datasets.Split, visit TapVisitor) (*Output, float64, error) {
	if err := checkSplit(p.Model, split, true); err != nil {
		return nil, 0, err
	}
	if split.N == 0 {
		return nil, 0, &InputError{Data: fmt.Sprintf("split %q", split.Name), Reason: "has no samples"}
	}
	loader, err := datasets.NewLoader(split, p.batchSize, false, 0)
	if err != nil {
		return nil, 0, err
	}
	order := loader.Epoch(0)
	out := &Output{Classes: p.Model.Config.Classes, Logits: make([]float64, 0, split.N*p.Model.Config.Classes),
		Labels: make([]int, 0, split.N)}
	var batch datasets.Batch
	var lossSum float64
	for b := 0; b < loader.NumBatches(); b++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("prediction interrupted: %w", err)
		}
		loader.Batch(order, b, &batch)
		ps, err := p.runBatch(&batch, true, visit != nil, out)
		if err != nil {
			return nil, 0, fmt.Errorf("batch %d of %s: %w", b, split.Name, err)
		}
		loss, err := scalarOf(*ps.loss)
		if err != nil {
			return nil, 0, err
		}
		lossSum += loss * float64(batch.N)
		if visit != nil {
			if err := visit(ps.graph.Taps, &batch); err != nil {
				return nil, 0, err
			}
		}
	}
	return out, lossSum, nil
}

// runBatch runs a checked batch and appends its logits (and labels, when labelled) to out.
func (p *Predictor) runBatch(b *datasets.Batch, labelled, taps bool, out *Output) (*pass, error) {
	ps, err := p.graph(b.N, taps)
	if err != nil {
		return nil, err
	}
	if err := ps.forward(b, labelled); err != nil {
		return nil, err
	}
	logits, err := ps.logitsTensor()
	if err != nil {
		return nil, err
	}
	switch logits.Dtype() {
	case tensor.Float64:
		out.Logits = append(out.Logits, logits.Float64s()...)
	default:
		for _, v := range logits.Float32s() {
			out.Logits = append(out.Logits, float64(v))
		}
	}
	if labelled {
		out.Labels = append(out.Labels, b.Y[:b.N]...)
	}
	out.N += b.N
	return ps, nil
}
