package train

import (
	"github.com/bnzoo/bnzoo/datasets"
)

// Step runs one training step (forward, backward, optimizer update at the optimizer's current learning rate) on b
// and returns the batch's mean loss and the number of correct predictions. Fit calls the same code; Step is for
// callers that drive the loop themselves (benchmarks, custom schedules). A NaN or infinite loss or gradient is a
// *DivergenceError naming the first bad tensor, and then no parameter is updated; so is a parameter the update
// made non-finite (an overflow: finite gradients times a huge learning rate), found right after the update. A
// batch that does not fit the model (sample shape, size, labels) is an *InputError, and nothing runs.
func (t *Trainer) Step(b *datasets.Batch) (loss float64, correct int, err error) {
	if err := checkBatch(t.Model, b, true); err != nil {
		return 0, 0, err
	}
	p, err := t.pass(b.N, true)
	if err != nil {
		return 0, 0, err
	}
	sum, correct, err := p.run(b)
	if err != nil {
		return 0, 0, err
	}
	if t.hooks.grads != nil {
		t.hooks.grads(t, p.grads)
	}
	if err := checkGradients(p.params, p.grads); err != nil {
		return 0, 0, err
	}
	if err := t.applyGradients(p); err != nil {
		return 0, 0, err
	}
	if err := checkParams(p.params, " after the update"); err != nil {
		return 0, 0, err
	}
	return sum / float64(b.N), correct, nil
}

// Predict runs b through the model in evaluation mode and returns its mean loss and number of correct predictions.
// A batch that does not fit the model is an *InputError. (For logits and probabilities, see Predictor.)
func (t *Trainer) Predict(b *datasets.Batch) (loss float64, correct int, err error) {
	if err := checkBatch(t.Model, b, true); err != nil {
		return 0, 0, err
	}
	p, err := t.pass(b.N, false)
	if err != nil {
		return 0, 0, err
	}
	sum, correct, err := p.run(b)
	return sum / float64(b.N), correct, err
}
