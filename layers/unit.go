package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// ConvUnit describes a unit: a square convolution followed by BatchNorm and activation in a placement.
type ConvUnit struct {
	Name                string // parameter prefix: owns Name+".conv.*" and Name+".bn.*"
	Out, Kernel, Stride int    // Out is ignored for a depthwise unit (it keeps the input's channels)
	Pad                 int
	Depthwise           bool // one k×k filter per input channel (groups = channels)
	Activation          Activation
	Placement           Placement
}

// ConvUnit adds a unit: conventional is conv → BN → act, swapped is conv → act → BN, none is conv with bias → act.
// The conv has a bias only when no BN follows it. The unit's values are tapped when b.Taps is set.
func (b *Builder) ConvUnit(x *G.Node, u ConvUnit) (*G.Node, error) {
	u = b.placed(u)
	if y, ok, err := b.fusedUnit(x, u, nil); ok {
		return y, err
	}
	y, err := b.unitConv(x, u)
	if err != nil {
		return nil, err
	}
	return b.NormAct(y, u.Name, u.Activation, u.Placement)
}

// placed returns u in its effective placement: b.Placements' entry for it if there is one.
func (b *Builder) placed(u ConvUnit) ConvUnit {
	if p, ok := b.Placements[u.Name]; ok {
		u.Placement = p
	}
	return u
}

func (b *Builder) unitConv(x *G.Node, u ConvUnit) (*G.Node, error) {
	if u.Depthwise {
		return b.DepthwiseConv2d(x, u.Name+".conv", u.Kernel, u.Stride, u.Pad, !u.Placement.HasBN())
	}
	return b.Conv2d(x, u.Name+".conv", u.Out, u.Kernel, u.Stride, u.Pad, !u.Placement.HasBN())
}

// ResidualConvUnit adds the last unit of a residual block and the block's addition of shortcut. Conventional:
// act(BN(conv(x)) + shortcut) — the activation comes after the add, as in He et al. (2016). Swapped:
// BN(act(conv(x))) + shortcut — every conv is followed by act then BN, and nothing follows the add. None:
// act(conv(x) + bias + shortcut). The unit's taps are its pre-activation (including the shortcut in conventional and
// none order), activation output and BN output (before the add). In a mixed model the block's two units may differ:
// the add goes where this, the block's last unit, puts it — a swapped conv2 after a conventional conv1 adds the
// shortcut after its BN with nothing following, a conventional conv2 after a swapped conv1 adds it before its
// activation — so a block is always exactly what its last unit's placement makes it, whatever came before.
func (b *Builder) ResidualConvUnit(x, shortcut *G.Node, u ConvUnit) (*G.Node, error) {
	u = b.placed(u)
	if y, ok, err := b.fusedUnit(x, u, shortcut); ok {
		return y, err
	}
	y, err := b.unitConv(x, u)
	if err != nil {
		return nil, err
	}
	if !y.Shape().Eq(shortcut.Shape()) {
		return nil, fmt.Errorf("unit %q: output %v and shortcut %v differ in shape", u.Name, y.Shape(), shortcut.Shape())
	}
	return b.normAct(y, u.Name, u.Activation, u.Placement, shortcut)
}

// ConvBN adds conv → BN with no activation (a projection shortcut, MobileNetV2's linear projection): the same in
// every placement, and not a tapped unit. The conv is bias-free; it owns name+".conv.weight" and name+".bn.*".
func (b *Builder) ConvBN(x *G.Node, name string, out, k, stride, pad int) (*G.Node, error) {
	return b.ConvBNAdd(x, name, out, k, stride, pad, nil)
}

// ConvBNAdd is ConvBN followed by the addition of residual when it is not nil (MobileNetV2's linear projection
// and its shortcut): BN(conv(x)) + residual.
func (b *Builder) ConvBNAdd(x *G.Node, name string, out, k, stride, pad int, residual *G.Node) (*G.Node, error) {
	if b.fusing() {
		var posts []fusedPost
		if residual != nil {
			posts = []fusedPost{{kind: postSum}}
		}
		return b.fusedConv(x, name, out, k, stride, pad, false, roleConventional, posts, residual)
	}
	y, err := b.Conv2d(x, name+".conv", out, k, stride, pad, false)
	if err != nil {
		return nil, err
	}
	if y, err = b.BatchNorm(y, name+".bn"); err != nil || residual == nil {
		return y, err
	}
	if !y.Shape().Eq(residual.Shape()) {
		return nil, fmt.Errorf("%q: output %v and residual %v differ in shape", name, y.Shape(), residual.Shape())
	}
	return G.Add(y, residual)
}

// NormAct applies the BN and activation part of a unit named name to a weight layer's output y, in the given
// placement, and registers the unit's taps. It is the single place that decides the placement for every
// architecture.
func (b *Builder) NormAct(y *G.Node, name string, act Activation, placement Placement) (*G.Node, error) {
	return b.normAct(y, name, act, placement, nil)
}

// normAct is NormAct with an optional residual added where the block's definition puts it.
func (b *Builder) normAct(y *G.Node, name string, act Activation, placement Placement, residual *G.Node) (*G.Node, error) {
	var pre, out, bnOut *G.Node
	var err error
	addResidual := func(n *G.Node) (*G.Node, error) {
		if residual == nil {
			return n, nil
		}
		return G.Add(n, residual)
	}
	switch placement {
	case Conventional:
		if pre, err = b.BatchNorm(y, name+".bn"); err != nil {
			return nil, err
		}
		if pre, err = addResidual(pre); err != nil {
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
		if pre, err = addResidual(y); err != nil {
			return nil, err
		}
		if out, err = act.Apply(pre); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unit %q: unknown placement %v", name, placement)
	}
	if b.Taps != nil {
		info := UnitInfo{Name: name, Activation: act, Placement: placement, Channels: y.Shape()[1],
			Shape: append([]int(nil), y.Shape()[1:]...)}
		if err := b.Taps.add(info, [3]*G.Node{pre, out, bnOut}); err != nil {
			return nil, err
		}
	}
	if bnOut != nil {
		return addResidual(bnOut)
	}
	return out, nil
}
