package layers

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFinishKeepsBlockedLayoutBetweenFusedUnits checks which edges Builder.Finish leaves in oneDNN's blocked
// layout: a fused unit read only by fused units (as input or as shortcut) writes blocked and its readers read it
// so, and so does a fused max-pool; an output read by any other op (here a reshape), or with channels that are
// not a multiple of the block, stays NCHW.
func TestFinishKeepsBlockedLayoutBetweenFusedUnits(t *testing.T) {
	if fusedAccel32 == nil {
		t.Skip("no fused kernels in this build (they come with -tags dnnl)")
	}
	blk := fusedAccel32.blockChannels()
	store, err := NewStore(tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(store, false)
	b.Fuse = true
	x := b.Input("x", 2, 3, 8, 8)
	unit := func(name string, out int, pl Placement) ConvUnit {
		return ConvUnit{Name: name, Out: out, Kernel: 3, Stride: 1, Pad: 1, Activation: MustActivation("tanh"), Placement: pl}
	}
	a, err := b.ConvUnit(x, unit("a", blk, Conventional))
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.ConvUnit(a, unit("c", blk, Swapped))
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.ResidualConvUnit(c, a, unit("d", blk, Conventional))
	if err != nil {
		t.Fatal(err)
	}
	e, err := b.ConvUnit(d, unit("e", blk+1, Conventional))
	if err != nil {
		t.Fatal(err)
	}
	f, err := b.ConvUnit(e, unit("f", blk, Conventional))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := b.MaxPool2d(f, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Flatten(pool); err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	pf := pool.Op().(*fusedPoolOp).flags
	if !pf.inBlocked || pf.outBlocked {
		t.Errorf("max-pool read by a reshape: blocked in/out = %v/%v, want true/false", pf.inBlocked, pf.outBlocked)
	}
	spec := func(n *G.Node) fusedSpec {
		op, ok := n.Op().(*fusedUnitOp)
		if !ok {
			t.Fatalf("%v is %T, not a fused unit", n, n.Op())
		}
		return op.spec
	}
	for _, c := range []struct {
		name         string
		n            *G.Node
		in, out, res bool
		wantResidual bool
	}{
		{"a (read by c and as d's shortcut)", a, false, true, false, false},
		{"c", c, true, true, false, false},
		{"d (residual)", d, true, true, true, true},
		{"e (output channels not a multiple of the block)", e, true, false, false, false},
		{"f (read by a fused max-pool)", f, false, true, false, false},
	} {
		s := spec(c.n)
		if s.inBlocked != c.in || s.outBlocked != c.out || s.resBlocked != c.res {
			t.Errorf("%s: blocked in/out/residual = %v/%v/%v, want %v/%v/%v", c.name, s.inBlocked, s.outBlocked,
				s.resBlocked, c.in, c.out, c.res)
		}
		if got := spec(c.n).posts[0].kind == postSum; got != c.wantResidual {
			t.Errorf("%s: first post-op is a sum: %v", c.name, got)
		}
	}
}
