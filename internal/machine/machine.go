// Package machine runs a Gorgonia expression graph the way gorgonia.TapeMachine does — every node once per run, in
// the same topological order, values read with gorgonia.Read copied out when reached — but with every large output
// placed in memory planned before the first run, shared by values whose lifetimes do not overlap.
//
// Gorgonia's tape machine keeps every intermediate of a run alive until the run ends, and vm.Reset drops them all,
// so every training step allocated (and the kernel zeroed and mapped) a fresh buffer for every node: a resnet20
// training step held ~650 MB of values at its end and the Go heap grew to twice that before each collection. Here
// ops that implement PooledOp, and Gorgonia's elementwise ops through UsePreallocDo, write into their slot of an
// arena (plan.go); the arena is allocated once and reused by every run. Values other ops return from the heap
// (Gorgonia's small ops) are dropped after their last reader.
//
// A Gorgonia op computed by Do may return a view of an input (a reshape does), so the planner keeps every slot an
// op's inputs live in alive for as long as its output is read. Ops must not keep references to their inputs or
// outputs across calls (bnzoo's ops keep only their own scratch and per-channel statistics);
// TestMachineMatchesTapeMachine checks the outcome bit for bit against Gorgonia's tape machine.
package machine

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PooledOp is an op that can take its output tensor from an Allocator. DoPooled must compute what Do computes and
// may call a.Tensor at most once, for the tensor it returns.
type PooledOp interface {
	G.Op
	DoPooled(a Allocator, in ...G.Value) (G.Value, error)
}

type stepKind int

const (
	stepInput stepKind = iota // a bound value: an input, a learnable or a constant
	stepOp                    // an op applied to earlier values
	stepRead                  // gorgonia.Read: copy a value out
)

type step struct {
	node *G.Node
	kind stepKind
	args []int    // indices of the children's steps
	into *G.Value // for stepRead
	// prealloc: a Gorgonia elementwise op on float tensors, given a pooled output buffer (UsePreallocDo writes
	// every element) instead of allocating one and copying its first operand into it.
	prealloc bool
	pooled   bool // the output has a planned slot: a PooledOp, or prealloc
	uses     int  // how many argument slots of later steps read this value
	name     string
}

// preallocMin is the element count from which Gorgonia's elementwise ops get pooled outputs (smaller ones are
// cheaper to allocate than to track).
var preallocMin = 1024

// Machine runs one graph. It implements gorgonia.VM.
type Machine struct {
	steps []step
	pool  *Pool
	slots []slot               // per step, for pooled outputs (plan.go)
	arena map[tensor.Dtype]int // elements the plan needs per dtype

	vals []G.Value
	left []int
}

// New compiles g for running on pool (a new pool when nil).
func New(g *G.ExprGraph, pool *Pool) (*Machine, error) {
	sorted, err := G.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("machine: %w", err)
	}
	// G.Sort puts a node before its children; the tape machine runs them in the reverse of that order, as here.
	n := len(sorted)
	index := make(map[*G.Node]int, n)
	m := &Machine{steps: make([]step, n), pool: pool}
	if m.pool == nil {
		m.pool = NewPool()
	}
	for i := range sorted {
		node := sorted[n-1-i]
		index[node] = i
		st := step{node: node, name: node.Name()}
		children := g.From(node.ID())
		for children.Next() {
			c := children.Node().(*G.Node)
			j, ok := index[c]
			if !ok {
				return nil, fmt.Errorf("machine: node %q runs before its input %q", node.Name(), c.Name())
			}
			st.args = append(st.args, j)
		}
		switch op := node.Op(); {
		case op == nil || isConstant(op):
			st.kind = stepInput
		case isRead(op):
			into, err := readTarget(op)
			if err != nil {
				return nil, fmt.Errorf("machine: node %q: %w", node.Name(), err)
			}
			if len(st.args) != 1 {
				return nil, fmt.Errorf("machine: read node %q has %d inputs", node.Name(), len(st.args))
			}
			st.kind, st.into = stepRead, into
		case reflect.TypeOf(op).String() == "gorgonia.letOp":
			return nil, fmt.Errorf("machine: node %q: Gorgonia's let statement is not supported", node.Name())
		default:
			st.kind = stepOp
			name, dt := reflect.TypeOf(op).String(), node.Dtype()
			float := dt == tensor.Float32 || dt == tensor.Float64
			st.prealloc = (name == "gorgonia.elemBinOp" || name == "gorgonia.elemUnaryOp") && float &&
				!node.IsScalar() && node.Shape().TotalSize() >= preallocMin
			_, pooledOp := op.(PooledOp)
			st.pooled = st.prealloc || (pooledOp && float && !node.IsScalar() && node.Shape().TotalSize() > 0)
		}
		for _, j := range st.args {
			m.steps[j].uses++
		}
		m.steps[i] = st
	}
	m.vals, m.left = make([]G.Value, n), make([]int, n)
	if err := m.plan(); err != nil {
		return nil, err
	}
	return m, nil
}

// RunAll runs every node once.
func (m *Machine) RunAll() error {
	if err := m.pool.acquire(m.arena); err != nil {
		return err
	}
	defer func() {
		clear(m.vals)
		m.pool.release()
	}()
	for i := range m.steps {
		st := &m.steps[i]
		m.left[i] = st.uses
		switch st.kind {
		case stepInput:
			v := st.node.Value()
			if v == nil {
				return fmt.Errorf("machine: input %q has no value", st.name)
			}
			m.vals[i] = v
		case stepRead:
			if err := readInto(st.into, m.vals[st.args[0]]); err != nil {
				return fmt.Errorf("machine: reading %q: %w", m.steps[st.args[0]].name, err)
			}
		case stepOp:
			if err := m.exec(i); err != nil {
				return err
			}
		}
		for _, j := range st.args {
			if m.left[j]--; m.left[j] == 0 {
				m.vals[j] = nil // its slot is the plan's to reuse; a heap value is garbage now
			}
		}
	}
	return nil
}

// exec runs step i's op, with its planned slot as the output when it has one.
func (m *Machine) exec(i int) error {
	st := &m.steps[i]
	in := make([]G.Value, len(st.args))
	for k, j := range st.args {
		in[k] = m.vals[j]
	}
	var out G.Value
	var err error
	var a *stepAllocator
	if st.pooled {
		a = &stepAllocator{pool: m.pool, slot: m.slots[i], name: st.name}
	}
	switch op := st.node.Op().(type) {
	case PooledOp:
		if a != nil {
			out, err = op.DoPooled(a, in...)
		} else {
			out, err = op.DoPooled(nil, in...)
		}
	default:
		if u, ok := op.(G.UsePreallocDoer); ok && st.prealloc {
			out, err = u.UsePreallocDo(a.Tensor(st.node.Dtype(), false, st.node.Shape()...), in...)
		} else {
			out, err = op.Do(in...)
		}
	}
	if err == nil && a != nil {
		err = a.err
	}
	if err != nil {
		return fmt.Errorf("machine: %q: %w", st.name, err)
	}
	if out == nil {
		return fmt.Errorf("machine: op %v of %q returned no value", st.node.Op(), st.name)
	}
	if a != nil && a.out != nil {
		if d, ok := out.(*tensor.Dense); !ok || d.Uintptr() != a.out.Uintptr() {
			return fmt.Errorf("machine: op %v of %q took its planned output but returned another value", st.node.Op(), st.name)
		}
	}
	m.vals[i] = out
	return nil
}

// Reset is a no-op: values live only within a run. It is here so that Machine implements gorgonia.VM.
func (m *Machine) Reset() {}

// Close drops the machine's graph; the pool keeps its arenas for other machines.
func (m *Machine) Close() error {
	m.steps, m.vals, m.left, m.slots = nil, nil, nil, nil
	return nil
}

// readInto copies v into *into as the tape machine's read instruction does: into the existing value when there is
// one, otherwise into a clone.
func readInto(into *G.Value, v G.Value) error {
	if v == nil {
		return errors.New("no value")
	}
	if *into != nil {
		_, err := G.Copy(*into, v)
		return err
	}
	c, err := G.CloneValue(v)
	if err != nil {
		return err
	}
	*into = c
	return nil
}

// isConstant reports whether op is one of Gorgonia's constant ops, whose node carries its value.
func isConstant(op G.Op) bool {
	_, ok := op.(interface{ Value() G.Value })
	return ok
}

var readOpType = reflect.TypeOf(G.Read(G.NewScalar(G.NewGraph(), G.Float32), new(G.Value)).Op())

// isRead reports whether op is gorgonia.Read's op.
func isRead(op G.Op) bool { return reflect.TypeOf(op) == readOpType }

// readTarget returns where a gorgonia.Read op copies its value. The op keeps that pointer in its one unexported
// field; reflection reads the address without writing anything. A different Gorgonia version with another layout
// gives an error, not a wrong pointer.
func readTarget(op G.Op) (*G.Value, error) {
	v := reflect.ValueOf(op)
	if v.Kind() != reflect.Struct || v.NumField() != 1 || v.Field(0).Type() != reflect.TypeOf((*G.Value)(nil)) {
		return nil, fmt.Errorf("gorgonia.Read's op %T does not have the expected layout (one *gorgonia.Value)", op)
	}
	return (*G.Value)(unsafe.Pointer(v.Field(0).Pointer())), nil
}
