package zoo

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Dtype is the type of a model's parameters and of every value its graphs compute. It is Gorgonia's tensor.Dtype;
// Float32 and Float64 (or ParseDtype) name the two a model can have, so that a program picks one without
// importing gorgonia.org/tensor.
type Dtype = tensor.Dtype

// The two parameter types: float32 to train and evaluate, float64 for gradient checks and exact comparisons.
// (They are variables only because tensor.Dtype is not a constant type; do not assign to them.)
var (
	Float32 Dtype = tensor.Float32
	Float64 Dtype = tensor.Float64
)

// ParseDtype returns the Dtype named "float32" or "float64" ("" is float32, as in a run's run.json).
func ParseDtype(name string) (Dtype, error) {
	switch name {
	case "", "float32":
		return Float32, nil
	case "float64":
		return Float64, nil
	}
	return Float32, fmt.Errorf("unknown dtype %q (valid: float32, float64)", name)
}

// Dtype returns the type of the model's parameters, Float32 or Float64.
func (m *Model) Dtype() Dtype { return m.Store.Dtype() }
