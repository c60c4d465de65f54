package train

import (
	"fmt"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// InputError is data that does not fit the model it is given to: a sample shape other than the model's input
// shape, a label outside the model's classes, a batch whose values do not add up to its samples, or a model whose
// parameters are not float32 or float64. Every public entry point that takes data (Trainer.Fit, Step, Predict,
// Evaluate, Analyse and the Predictor's methods) checks its data before running a graph and returns one, so wrong
// data is an error naming both sides instead of a silently meaningless accuracy or a panic inside a kernel.
type InputError struct {
	Data   string // what was checked, e.g. `split "fashion-mnist/train"` or "batch"
	Reason string // e.g. "is 1×28×28 but the model takes 3×32×32"
}

func (e *InputError) Error() string { return e.Data + " " + e.Reason }

// shapeString writes a sample shape as C×H×W.
func shapeString(c, h, w int) string { return fmt.Sprintf("%d×%d×%d", c, h, w) }

// checkModel checks that m can run at all: a model and a supported parameter type.
func checkModel(m *zoo.Model) error {
	if m == nil || m.Store == nil {
		return &InputError{Data: "model", Reason: "is nil (build one with zoo.New or zoo.Load)"}
	}
	if dt := m.Store.Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return &InputError{Data: "model", Reason: fmt.Sprintf("has %v parameters; only float32 and float64 run", dt)}
	}
	return nil
}

// checkSplit checks that every sample of s has the model's input shape and, when labelled is set, every label is
// one of the model's classes; s must also be consistent (datasets.Split.Validate).
func checkSplit(m *zoo.Model, s *datasets.Split, labelled bool) error {
	if err := checkModel(m); err != nil {
		return err
	}
	if s == nil {
		return &InputError{Data: "split", Reason: "is nil"}
	}
	data := fmt.Sprintf("split %q", s.Name)
	c := m.Config.InputShape
	if s.C != c[0] || s.H != c[1] || s.W != c[2] {
		return &InputError{Data: data, Reason: fmt.Sprintf("is %s but the model takes %s",
			shapeString(s.C, s.H, s.W), shapeString(c[0], c[1], c[2]))}
	}
	if err := s.Validate(); err != nil {
		return &InputError{Data: data, Reason: fmt.Sprintf("is inconsistent: %v", err)}
	}
	if labelled {
		return checkLabels(data, s.Labels, m.Config.Classes)
	}
	return nil
}

// checkLabels checks that every label is in [0, classes).
func checkLabels(data string, labels []int, classes int) error {
	hi, at := -1, -1
	for i, l := range labels {
		if l < 0 {
			return &InputError{Data: data, Reason: fmt.Sprintf("has label %d (sample %d); labels must not be negative", l, i)}
		}
		if l > hi {
			hi, at = l, i
		}
	}
	if hi >= classes {
		return &InputError{Data: data, Reason: fmt.Sprintf("has label %d (sample %d, so at least %d classes) but the model has %d classes",
			hi, at, hi+1, classes)}
	}
	return nil
}

// checkBatch checks that b holds b.N samples of the model's input shape and, when labelled is set, b.N labels that
// are all among the model's classes. A batch from a datasets.Loader carries its sample shape, which is compared
// with the model's; a batch built by hand (C, H, W zero) is checked by size only.
func checkBatch(m *zoo.Model, b *datasets.Batch, labelled bool) error {
	if err := checkModel(m); err != nil {
		return err
	}
	if b == nil {
		return &InputError{Data: "batch", Reason: "is nil"}
	}
	if b.N < 1 {
		return &InputError{Data: "batch", Reason: fmt.Sprintf("has %d samples; it needs at least one", b.N)}
	}
	c := m.Config.InputShape
	want := c[0] * c[1] * c[2]
	if b.C != 0 || b.H != 0 || b.W != 0 {
		if b.C != c[0] || b.H != c[1] || b.W != c[2] {
			return &InputError{Data: "batch", Reason: fmt.Sprintf("is %s but the model takes %s",
				shapeString(b.C, b.H, b.W), shapeString(c[0], c[1], c[2]))}
		}
	}
	if len(b.X) != b.N*want {
		return &InputError{Data: "batch", Reason: fmt.Sprintf("has %d values for %d samples (%.4g per sample) but the model takes %s (%d per sample)",
			len(b.X), b.N, float64(len(b.X))/float64(b.N), shapeString(c[0], c[1], c[2]), want)}
	}
	if !labelled {
		return nil
	}
	if len(b.Y) < b.N {
		return &InputError{Data: "batch", Reason: fmt.Sprintf("has %d labels for %d samples", len(b.Y), b.N)}
	}
	return checkLabels("batch", b.Y[:b.N], m.Config.Classes)
}
