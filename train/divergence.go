package train

import (
	"errors"
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrDiverged is wrapped by every *DivergenceError, for errors.Is.
var ErrDiverged = errors.New("training diverged")

// DivergenceError reports a NaN or infinite loss or gradient. The step it happened in updated no parameter and,
// in a run directory, wrote no checkpoint: LastCheckpoint, the newest one, is the last good state.
type DivergenceError struct {
	// Step is the global step (counted from 1) that diverged, in Epoch (from 1) at Batch of Batches (from 1);
	// all 0 when the error comes from Trainer.Step outside Fit.
	Step, Epoch, Batch, Batches int
	// Tensor is the first bad tensor found: "loss", or "gradient of <parameter>" in the model's parameter order.
	Tensor string
	// Index is the first bad element of Tensor (-1 for the scalar loss) and Value its value.
	Index int
	Value float64
	// LastCheckpoint is the path of the newest checkpoint of the run ("" outside a run directory or before the
	// first checkpoint).
	LastCheckpoint string
}

func (e *DivergenceError) Error() string {
	where := ""
	if e.Step > 0 {
		where = fmt.Sprintf(" at step %d (epoch %d, batch %d/%d)", e.Step, e.Epoch, e.Batch, e.Batches)
	}
	what := fmt.Sprintf("%s is %v", e.Tensor, e.Value)
	if e.Index >= 0 {
		what = fmt.Sprintf("%s has %v at element %d", e.Tensor, e.Value, e.Index)
	}
	msg := fmt.Sprintf("training diverged%s: %s", where, what)
	if e.LastCheckpoint != "" {
		msg += "; no checkpoint was written, the last good one is " + e.LastCheckpoint
	}
	return msg
}

// Unwrap returns ErrDiverged.
func (e *DivergenceError) Unwrap() error { return ErrDiverged }

// checkGradients returns a *DivergenceError for the first gradient, in parameter order, holding a NaN or an
// infinity.
func checkGradients(params []*layers.Param, grads []G.Value) error {
	for i, g := range grads {
		d, ok := g.(*tensor.Dense)
		if !ok {
			continue // applyGradients reports the type
		}
		var j int
		var v float64
		switch d.Dtype() {
		case tensor.Float64:
			j, v = firstNonFinite(d.Float64s())
		case tensor.Float32:
			j, v = firstNonFinite(d.Float32s())
		default:
			continue
		}
		if j >= 0 {
			return &DivergenceError{Tensor: "gradient of " + params[i].Name, Index: j, Value: v}
		}
	}
	return nil
}

// firstNonFinite returns the index and value of the first NaN or ±Inf in x, or -1.
func firstNonFinite[T float32 | float64](x []T) (int, float64) {
	for i, v := range x {
		// v−v is 0 for finite v and NaN for NaN and ±Inf: one comparison per element.
		if v-v != 0 {
			return i, float64(v)
		}
	}
	return -1, 0
}
