package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TapKind names one intermediate value of a unit.
type TapKind int

const (
	// PreActivation is the activation's input: the BN output in conventional order, the weight layer's output in
	// swapped and none order.
	PreActivation TapKind = iota
	// ActivationOutput is the activation's output.
	ActivationOutput
	// BNOutput is the output of the BatchNorm that follows the activation (swapped order only).
	BNOutput
)

func (k TapKind) String() string {
	switch k {
	case PreActivation:
		return "pre_activation"
	case ActivationOutput:
		return "activation"
	case BNOutput:
		return "bn_output"
	}
	return fmt.Sprintf("tap(%d)", int(k))
}

// UnitInfo describes one tapped unit: its name is its parameter prefix ("features.3"), so report rows and
// checkpoint keys line up.
type UnitInfo struct {
	Name       string
	Activation Activation
	Placement  Placement
	Channels   int
	Shape      []int // the unit's output shape without the batch axis
}

// Taps collects units' intermediate values during forward passes. It reads them with gorgonia.Read, which copies
// each value when the tape reaches it: a plain node.Value() after the pass can show another node's data, because
// Gorgonia lets a later elementwise op overwrite a dead input's buffer.
type Taps struct {
	units  []UnitInfo
	values map[string]*[3]G.Value
	has    map[string]*[3]bool
}

// NewTaps returns an empty tap set; give it to a Builder before building the model.
func NewTaps() *Taps { return &Taps{values: map[string]*[3]G.Value{}, has: map[string]*[3]bool{}} }

// add registers a unit's tap nodes; nodes[k] may be nil where the unit has no such value.
func (t *Taps) add(info UnitInfo, nodes [3]*G.Node) error {
	if _, dup := t.values[info.Name]; dup {
		return fmt.Errorf("taps: unit %q registered twice", info.Name)
	}
	vals, has := new([3]G.Value), new([3]bool)
	for k, n := range nodes {
		if n != nil {
			G.Read(n, &vals[k])
			has[k] = true
		}
	}
	t.units = append(t.units, info)
	t.values[info.Name], t.has[info.Name] = vals, has
	return nil
}

// Units lists the tapped units in model order.
func (t *Taps) Units() []UnitInfo { return append([]UnitInfo(nil), t.units...) }

// Value returns the named unit's value of the given kind from the last forward pass. The tensor is reused by the
// next pass: copy it to keep it.
func (t *Taps) Value(unit string, kind TapKind) (*tensor.Dense, error) {
	vals, ok := t.values[unit]
	if !ok {
		return nil, fmt.Errorf("taps: no unit %q", unit)
	}
	if kind < 0 || int(kind) >= len(vals) || !t.has[unit][kind] {
		return nil, fmt.Errorf("taps: unit %q has no %v", unit, kind)
	}
	d, ok := vals[kind].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("taps: unit %q: no %v yet (run a forward pass first)", unit, kind)
	}
	return d, nil
}

// Next returns what the layer after the unit receives: the BN output in swapped order, the activation output
// otherwise.
func (t *Taps) Next(unit string) (*tensor.Dense, error) {
	if has, ok := t.has[unit]; ok && has[BNOutput] {
		return t.Value(unit, BNOutput)
	}
	return t.Value(unit, ActivationOutput)
}
