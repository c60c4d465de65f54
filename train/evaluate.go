package train

import (
	"context"
	"fmt"
	"github.com/bnzoo/bnzoo/zoo"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
)

// EvalResult is the outcome of an evaluation pass.
type EvalResult struct {
	Loss     float64 // mean cross-entropy
	Accuracy float64 // fraction correct
	Samples  int     // every sample of the split, the last partial batch included
}

// TapVisitor sees each evaluation batch's taps (nil when the model was built without them) with the batch.
type TapVisitor func(taps *layers.Taps, batch *datasets.Batch) error

// Evaluate runs the model in evaluation mode (running BN statistics, no dropout) over every sample of split, in
// order, with Config.EvalBatchSize per batch (the last batch may be smaller and is counted). When visit is not nil
// the graphs are built with taps and visit is called after each batch. A split that does not fit the model (sample
// shape, labels) is an *InputError, returned before anything runs.
func (t *Trainer) Evaluate(ctx context.Context, split *datasets.Split, visit TapVisitor) (EvalResult, error) {
	if err := checkSplit(t.Model, split, true); err != nil {
		return EvalResult{}, err
	}
	loader, err := datasets.NewLoader(split, t.Config.EvalBatchSize, false, 0)
	if err != nil {
		return EvalResult{}, err
	}
	if split.N == 0 {
		return EvalResult{}, errNoSamples
	}
	order := loader.Epoch(0)
	label := "evaluate"
	if t.Config.Label != "" {
		label += " " + t.Config.Label
	}
	bar := newBar(t.Config.Progress, loader.NumBatches(), label)
	defer barEnd(bar)
	var batch datasets.Batch
	var lossSum float64
	var correct, seen int
	for b := 0; b < loader.NumBatches(); b++ {
		if err := ctx.Err(); err != nil {
			return EvalResult{}, fmt.Errorf("evaluation interrupted: %w", err)
		}
		loader.Batch(order, b, &batch)
		p, err := t.evalPass(batch.N, visit != nil)
		if err != nil {
			return EvalResult{}, err
		}
		l, c, err := p.run(&batch)
		if err != nil {
			return EvalResult{}, fmt.Errorf("evaluation batch %d: %w", b, err)
		}
		if visit != nil {
			if err := visit(p.graph.Taps, &batch); err != nil {
				return EvalResult{}, err
			}
		}
		lossSum += l
		correct += c
		seen += batch.N
		barStep(bar, fmt.Sprintf("%s acc %.2f%%", label, 100*float64(correct)/float64(seen)))
	}
	barFinish(bar)
	return EvalResult{Loss: lossSum / float64(seen), Accuracy: float64(correct) / float64(seen), Samples: seen}, nil
}

// evalPass returns the evaluation graph for n samples, with or without taps (tapped graphs are cached apart).
func (t *Trainer) evalPass(n int, taps bool) (*pass, error) {
	if !taps {
		return t.pass(n, false)
	}
	k := passKey{n: -n, training: false} // negative size marks the tapped variant
	if p, ok := t.passes[k]; ok {
		return p, nil
	}
	p, err := newPass(t.Model, n, zoo.BuildOptions{Taps: true}, t.pool)
	if err != nil {
		return nil, err
	}
	t.passes[k] = p
	return p, nil
}
