package train

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ErrDiverged is wrapped by every *DivergenceError, for errors.Is.
var ErrDiverged = errors.New("training diverged")

// DivergenceError reports a NaN or infinite loss, gradient or parameter. A bad loss or gradient is found before
// the update, so the step changed no parameter; a bad parameter (an update that overflowed: a finite gradient
// times a huge learning rate) is found right after it, and the model in memory then holds it. Either way no
// checkpoint was written from that state — a checkpoint is only written when every tensor is finite — so
// LastCheckpoint, the newest one, is the last good state.
type DivergenceError struct {
	// Step is the global step (counted from 1) that diverged, in Epoch (from 1) at Batch of Batches (from 1);
	// all 0 when the error comes from Trainer.Step outside Fit.
	Step, Epoch, Batch, Batches int
	// Tensor is the first bad tensor found: "loss", "gradient of <parameter>" or "parameter <name> after the
	// update" (in the model's parameter order), or, when a checkpoint is refused, the state tensor's key.
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
		if j, v := denseNonFinite(d); j >= 0 {
			return &DivergenceError{Tensor: "gradient of " + params[i].Name, Index: j, Value: v}
		}
	}
	return nil
}

// checkParams returns a *DivergenceError for the first parameter, in the given order, holding a NaN or an
// infinity; its Tensor is "parameter <name>" followed by suffix.
func checkParams(params []*layers.Param, suffix string) error {
	for _, p := range params {
		if j, v := denseNonFinite(p.Value); j >= 0 {
			return &DivergenceError{Tensor: "parameter " + p.Name + suffix, Index: j, Value: v}
		}
	}
	return nil
}

// checkModelState returns a *DivergenceError for the first non-finite parameter or BatchNorm running statistic of
// m: what is refused in a checkpoint.
func checkModelState(m *zoo.Model) error {
	if err := checkParams(m.Store.Params(), ""); err != nil {
		return err
	}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		if j, v := firstNonFinite(st.Mean); j >= 0 {
			return &DivergenceError{Tensor: name + ".running_mean", Index: j, Value: v}
		}
		if j, v := firstNonFinite(st.Var); j >= 0 {
			return &DivergenceError{Tensor: name + ".running_var", Index: j, Value: v}
		}
	}
	return nil
}

// checkOptimizerState returns a *DivergenceError for the first non-finite optimizer slot, in key order.
func checkOptimizerState(state map[string][]float64) error {
	for _, k := range slices.Sorted(maps.Keys(state)) {
		if j, v := firstNonFinite(state[k]); j >= 0 {
			return &DivergenceError{Tensor: "optimizer state " + k, Index: j, Value: v}
		}
	}
	return nil
}

// denseNonFinite is firstNonFinite of a float32 or float64 tensor (-1 for other dtypes).
func denseNonFinite(d *tensor.Dense) (int, float64) {
	switch d.Dtype() {
	case tensor.Float64:
		return firstNonFinite(d.Float64s())
	case tensor.Float32:
		return firstNonFinite(d.Float32s())
	}
	return -1, 0
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
