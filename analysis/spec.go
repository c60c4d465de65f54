package analysis

import (
	"fmt"
	"math"
)

// Placements of BatchNorm relative to a unit's activation, as used in
// LayerSpec.Placement and ReportMeta.Placement.
const (
	// PlacementConventional is conv → BN → act: the next layer receives
	// the activation output.
	PlacementConventional = "conventional"
	// PlacementSwapped is conv → act → BN: the next layer receives the
	// BatchNorm output.
	PlacementSwapped = "swapped"
	// PlacementNone is a unit without BatchNorm: the next layer receives
	// the activation output.
	PlacementNone = "none"
)

// LayerSpec describes one tapped unit.
type LayerSpec struct {
	// Name is the unit's parameter prefix, e.g. "features.3". It must be
	// non-empty and unique within a Collector.
	Name string
	// Activation names the unit's activation, e.g. "tanh". It is only
	// copied into the metrics.
	Activation string
	// Placement is PlacementConventional, PlacementSwapped or
	// PlacementNone.
	Placement string
	// Channels is the number of channels (C in [n][C][hw]); at least 1.
	Channels int
	// Lower and Upper bound the activation output. Use math.Inf(-1) and
	// math.Inf(1) for an unbounded side; a layer with either side
	// unbounded reports only sparsity.
	Lower, Upper float64
}

// Bounded reports whether the activation output has finite bounds on both
// sides, that is whether the saturation metrics are defined for the layer.
func (s LayerSpec) Bounded() bool {
	return !math.IsInf(s.Lower, 0) && !math.IsInf(s.Upper, 0) &&
		!math.IsNaN(s.Lower) && !math.IsNaN(s.Upper) && s.Upper > s.Lower
}

// Validate reports the first problem with the spec, or nil.
func (s LayerSpec) Validate() error {
	switch {
	case s.Name == "":
		return fmt.Errorf("analysis: layer spec has an empty Name")
	case s.Channels < 1:
		return fmt.Errorf("analysis: layer %q: Channels must be at least 1, got %d", s.Name, s.Channels)
	case math.IsNaN(s.Lower) || math.IsNaN(s.Upper):
		return fmt.Errorf("analysis: layer %q: bounds [%v, %v] contain NaN", s.Name, s.Lower, s.Upper)
	case !(s.Upper > s.Lower):
		return fmt.Errorf("analysis: layer %q: Upper (%v) must exceed Lower (%v)", s.Name, s.Upper, s.Lower)
	}
	switch s.Placement {
	case PlacementConventional, PlacementSwapped, PlacementNone:
	default:
		return fmt.Errorf("analysis: layer %q: Placement must be %q, %q or %q, got %q",
			s.Name, PlacementConventional, PlacementSwapped, PlacementNone, s.Placement)
	}
	return nil
}
