package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fusing reports whether this builder builds units fused (fused_eval.go): Fuse is set, the graph evaluates, has
// no taps, is float32, and the build has fused kernels.
func (b *Builder) fusing() bool {
	return b.Fuse && fusedAccel32 != nil && !b.Phase.Training() && b.Taps == nil && b.Store.Dtype() == tensor.Float32
}

// fusedConv adds a fused unit named name over x: a k×k convolution (depthwise when depthwise; out filters
// otherwise) with its BatchNorm name+".bn" folded in as role says, then posts. residual, when not nil, is added by
// a sum post-op that posts must contain. It creates the parameters in the order the unfused unit does.
func (b *Builder) fusedConv(x *G.Node, name string, out, k, stride, pad int, depthwise bool, role fusedRole,
	posts []fusedPost, residual *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("unit %q: input must be (N, C, H, W), got %v", name, s)
	}
	groups, wShape := 1, []int{out, s[1], k, k}
	if depthwise {
		out, groups, wShape = s[1], s[1], []int{s[1], 1, k, k}
	}
	g, err := makeConvGeom(s[0], s[1], s[2], s[3], out, k, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("unit %q: %w", name, err)
	}
	w, err := b.ParamNode(name+".conv.weight", WeightParam, wShape, KaimingNormalFanOut)
	if err != nil {
		return nil, err
	}
	gamma, err := b.ParamNode(name+".bn.weight", BNGammaParam, []int{out}, Constant(1))
	if err != nil {
		return nil, err
	}
	beta, err := b.ParamNode(name+".bn.bias", BNBetaParam, []int{out}, Constant(0))
	if err != nil {
		return nil, err
	}
	st, err := b.Store.BNStats(name+".bn", out)
	if err != nil {
		return nil, err
	}
	op := &fusedUnitOp{opBase: newOpBase("fused." + name), role: role, stats: st, phase: b.Phase,
		spec: fusedSpec{n: g.n, c: g.c, h: g.h, w: g.w, o: g.o, k: k, stride: stride, pad: pad, groups: groups,
			ho: g.ho, wo: g.wo, bias: role == roleConventional, posts: posts}}
	in := []*G.Node{x, w, gamma, beta}
	if residual != nil {
		if !residual.Shape().Eq(op.outShape()) {
			return nil, fmt.Errorf("unit %q: output %v and shortcut %v differ in shape", name, op.outShape(), residual.Shape())
		}
		in = append(in, residual)
	}
	if op.hasResidual() != (residual != nil) {
		return nil, fmt.Errorf("unit %q: a residual needs exactly one sum post-op", name)
	}
	op.inID, op.resID = x.ID(), -1
	if residual != nil {
		op.resID = residual.ID()
	}
	y, err := G.ApplyOp(op, in...)
	if err != nil {
		return nil, fmt.Errorf("unit %q: %w", name, err)
	}
	b.fused = append(b.fused, y)
	return y, nil
}

// fusedUnit builds unit u fused when this builder fuses and u's placement and activation can be, adding
// residual as ResidualConvUnit defines; ok is false when it builds nothing.
func (b *Builder) fusedUnit(x *G.Node, u ConvUnit, residual *G.Node) (y *G.Node, ok bool, err error) {
	if !b.fusing() {
		return nil, false, nil
	}
	act, supported := activationPosts(u.Activation)
	if !supported {
		return nil, false, nil
	}
	switch u.Placement {
	case Conventional: // act(BN(conv(x)) + residual)
		var posts []fusedPost
		if residual != nil {
			posts = append(posts, fusedPost{kind: postSum})
		}
		y, err = b.fusedConv(x, u.Name, u.Out, u.Kernel, u.Stride, u.Pad, u.Depthwise, roleConventional, append(posts, act...), residual)
	case Swapped: // BN(act(conv(x))) + residual, the sum a separate op
		posts := append(act, fusedPost{kind: postAffine})
		if y, err = b.fusedConv(x, u.Name, u.Out, u.Kernel, u.Stride, u.Pad, u.Depthwise, roleSwapped, posts, nil); err == nil && residual != nil {
			if !y.Shape().Eq(residual.Shape()) {
				return nil, true, fmt.Errorf("unit %q: output %v and shortcut %v differ in shape", u.Name, y.Shape(), residual.Shape())
			}
			y, err = G.Add(y, residual)
		}
	default:
		return nil, false, nil
	}
	return y, true, err
}

// fusedMaxPool adds a fused evaluation max-pool (k×k, stride, no padding) over x.
func (b *Builder) fusedMaxPool(x *G.Node, k, stride int) (*G.Node, error) {
	s := x.Shape()
	op := &fusedPoolOp{opBase: newOpBase("fused.maxpool"), n: s[0], c: s[1], h: s[2], w: s[3], k: k, stride: stride,
		inID: x.ID()}
	y, err := G.ApplyOp(op, x)
	if err != nil {
		return nil, fmt.Errorf("max-pool: %w", err)
	}
	b.fused = append(b.fused, y)
	return y, nil
}

// Finish completes a graph once its architecture is built (zoo.Model.Build calls it): a fused op (unit or
// max-pool) whose output is read only by other fused ops, as their input or shortcut, leaves it in oneDNN's
// blocked layout and they read it so, which saves a reorder to NCHW and one back per such edge. No op may be
// added to the graph after Finish that reads a fused op's output. Without fused ops it does nothing.
func (b *Builder) Finish() error {
	if len(b.fused) == 0 {
		return nil
	}
	block := fusedAccel32.blockChannels()
	ops := make(map[int64]layoutOp, len(b.fused))
	for _, n := range b.fused {
		op, ok := n.Op().(layoutOp)
		if !ok {
			return fmt.Errorf("finish: node %v is not a fused op", n)
		}
		ops[n.ID()] = op
	}
	for _, n := range b.fused {
		op := ops[n.ID()]
		if op.outChannels()%block != 0 {
			continue
		}
		readers := b.Graph.To(n.ID())
		var marks []*bool
		keep := readers.Len() > 0
		for keep && readers.Next() {
			r, ok := readers.Node().(*G.Node)
			if !ok {
				keep = false
				break
			}
			rop, fused := ops[r.ID()]
			if !fused {
				keep = false
				break
			}
			in, res := rop.ids()
			if in == n.ID() {
				marks = append(marks, &rop.layout().inBlocked)
			}
			if res == n.ID() {
				marks = append(marks, &rop.layout().resBlocked)
			}
		}
		if !keep || len(marks) == 0 {
			continue
		}
		op.layout().outBlocked = true
		for _, m := range marks {
			*m = true
		}
	}
	return nil
}
