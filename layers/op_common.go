package layers

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	G "gorgonia.org/gorgonia"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"gorgonia.org/tensor"
)

// opIDs gives every op instance a distinct identity. Gorgonia deduplicates nodes whose ops hash equally and whose
// children are the same, so two stateful ops (two BatchNorms on one input, say) must never hash alike.
var opIDs atomic.Uint64

func nextOpID() uint64 { return opIDs.Add(1) }

// opBase supplies the parts of gorgonia.Op that are identical for every bnzoo op. (Ops name their type variables
// a, c, d: Gorgonia reserves hm.TypeVariable('b') for the return type during inference.)
type opBase struct {
	id   uint64
	name string
}

func newOpBase(name string) opBase { return opBase{id: nextOpID(), name: name} }

func (o opBase) ReturnsPtr() bool     { return false }
func (o opBase) CallsExtern() bool    { return false }
func (o opBase) OverwritesInput() int { return -1 }
func (o opBase) String() string       { return o.name }
func (o opBase) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "bnzoo.%s#%d", o.name, o.id)
}
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// denseOf returns v as a *tensor.Dense of float32 or float64, or an error naming the op.
func denseOf(op string, v interface{}) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: expected a *tensor.Dense input, got %T", op, v)
	}
	if d.Dtype() != tensor.Float32 && d.Dtype() != tensor.Float64 {
		return nil, fmt.Errorf("%s: unsupported dtype %v (float32 or float64 only)", op, d.Dtype())
	}
	return d, nil
}

// denseInputs converts every input of an op with denseOf.
func denseInputs(op string, in []G.Value) ([]*tensor.Dense, error) {
	out := make([]*tensor.Dense, len(in))
	for i, v := range in {
		d, err := denseOf(op, v)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// newLike allocates a zeroed tensor with the given dtype and shape.
func newLike(dt tensor.Dtype, shape ...int) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
}

// channelGeometry splits an (N, C, ...) shape into batch, channels and the spatial size per channel.
func channelGeometry(s tensor.Shape) (n, c, hw int, err error) {
	if len(s) < 2 {
		return 0, 0, 0, fmt.Errorf("expected an (N, C, ...) input, got shape %v", s)
	}
	hw = 1
	for _, d := range s[2:] {
		hw *= d
	}
	return s[0], s[1], hw, nil
}

// float is the set of element types bnzoo's kernels run on.
type float interface{ ~float32 | ~float64 }

// outLike returns a zeroed output tensor from a, or from the heap when a is nil (an op run by Gorgonia's machine
// or called directly).
func outLike(a machine.Allocator, dt tensor.Dtype, shape ...int) *tensor.Dense {
	if a == nil {
		return newLike(dt, shape...)
	}
	return a.Tensor(dt, true, shape...)
}

// outUninit is outLike for kernels that write every element of their output: a pooled buffer is not cleared.
func outUninit(a machine.Allocator, dt tensor.Dtype, shape ...int) *tensor.Dense {
	if a == nil {
		return newLike(dt, shape...)
	}
	return a.Tensor(dt, false, shape...)
}

// outMaybeUninit is outUninit when full is true (the kernel about to run writes every element) and outLike
// otherwise.
func outMaybeUninit(a machine.Allocator, full bool, dt tensor.Dtype, shape ...int) *tensor.Dense {
	if full {
		return outUninit(a, dt, shape...)
	}
	return outLike(a, dt, shape...)
}
