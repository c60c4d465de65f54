package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// ConvUnit describes a unit: a square convolution followed by BatchNorm and activation in a placement.
type ConvUnit struct {
	Name                string // parameter prefix: owns Name+".conv.*" and Name+".bn.*"
	Out, Kernel, Stride int
	Pad                 int
	Activation          Activation
	Placement           Placement
}

// ConvUnit adds a unit: conventional is conv → BN → act, swapped is conv → act → BN, none is conv with bias → act.
// The conv has a bias only when no BN follows it. The unit's values are tapped when b.Taps is set.
func (b *Builder) ConvUnit(x *G.Node, u ConvUnit) (*G.Node, error) {
	y, err := b.Conv2d(x, u.Name+".conv", u.Out, u.Kernel, u.Stride, u.Pad, !u.Placement.HasBN())
	if err != nil {
		return nil, err
	}
	return b.NormAct(y, u.Name, u.Activation, u.Placement)
}

// NormAct applies the BN and activation part of a unit named name to a weight layer's output y, in the given
// placement, and registers the unit's taps. It is the single place that decides the placement for every
// architecture.
func (b *Builder) NormAct(y *G.Node, name string, act Activation, placement Placement) (*G.Node, error) {
	var pre, out, bnOut *G.Node
	var err error
	switch placement {
	case Conventional:
		if pre, err = b.BatchNorm(y, name+".bn"); err != nil {
			return nil, err
		}
		if out, err = act.Apply(pre); err != nil {
			return nil, err
		}
	case Swapped:
		pre = y
		if out, err = act.Apply(pre); err != nil {
			return nil, err
		}
		if bnOut, err = b.BatchNorm(out, name+".bn"); err != nil {
			return nil, err
		}
	case NoBN:
		pre = y
		if out, err = act.Apply(pre); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unit %q: unknown placement %v", name, placement)
	}
	if b.Taps != nil {
		info := UnitInfo{Name: name, Activation: act, Placement: placement, Channels: y.Shape()[1]}
		if err := b.Taps.add(info, [3]*G.Node{pre, out, bnOut}); err != nil {
			return nil, err
		}
	}
	if bnOut != nil {
		return bnOut, nil
	}
	return out, nil
}
