// Package machine runs a Gorgonia expression graph the way gorgonia.TapeMachine does — every node once per run, in
// the same topological order, values read with gorgonia.Read copied out when reached — but frees each intermediate
// value after its last consumer has run and reuses its memory.
//
// Gorgonia's tape machine keeps every intermediate of a run alive until the run ends, and vm.Reset drops them all,
// so every training step allocates (and the kernel zeroes and maps) a fresh buffer for every node: a resnet20
// training step held ~650 MB of values at its end and the Go heap grew to twice that before each collection. Here
// ops that implement PooledOp take their outputs from a Pool, a buffer goes back to the pool as soon as no pending
// consumer can read it, and the next node of that size gets it. Values the ops return from the heap (Gorgonia's own
// ops) are simply dropped when dead.
//
// Aliasing is tracked by address: an op's output whose memory overlaps a pooled input's (a reshape is a shallow
// clone) lives in that input's buffer, and the buffer is freed only when every value in it is dead. Ops must not
// keep references to their inputs or outputs across calls (bnzoo's ops keep only their own scratch and per-channel
// statistics); TestMachineMatchesTapeMachine checks the outcome bit for bit against Gorgonia's tape machine.
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
	uses     int // how many argument slots of later steps read this value
	name     string
}

// preallocMin is the element count from which Gorgonia's elementwise ops get pooled outputs (smaller ones are
// cheaper to allocate than to track).
var preallocMin = 1024

// Machine runs one graph. It implements gorgonia.VM.
type Machine struct {
	steps []step
	pool  *Pool

	vals []G.Value
	bufs []*buffer
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
			st.prealloc = (name == "gorgonia.elemBinOp" || name == "gorgonia.elemUnaryOp") &&
				(dt == tensor.Float32 || dt == tensor.Float64) && !node.IsScalar() && node.Shape().TotalSize() >= preallocMin
		}
		for _, j := range st.args {
			m.steps[j].uses++
		}
		m.steps[i] = st
	}
	m.vals, m.bufs, m.left = make([]G.Value, n), make([]*buffer, n), make([]int, n)
	return m, nil
}

// Pool returns the pool the machine draws its buffers from.
func (m *Machine) Pool() *Pool { return m.pool }

// RunAll runs every node once. On an error the run stops and every buffer goes back to the pool.
func (m *Machine) RunAll() (err error) {
	p := m.pool
	p.mu.Lock()
	if p.busy {
		p.mu.Unlock()
		return errors.New("machine: the pool is in use by another running machine")
	}
	p.busy = true
	p.mu.Unlock()
	defer func() {
		// Normally every buffer is back already; after an error, return what is still live.
		seen := map[*buffer]bool{}
		for i, b := range m.bufs {
			if b != nil && !seen[b] {
				seen[b] = true
				b.refs = 0
				p.put(b)
			}
			m.bufs[i], m.vals[i] = nil, nil
		}
		p.mu.Lock()
		p.busy = false
		p.mu.Unlock()
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
			m.release(j)
		}
	}
	return nil
}

// exec runs step i's op and records which buffer its output lives in.
func (m *Machine) exec(i int) error {
	st := &m.steps[i]
	in := make([]G.Value, len(st.args))
	for k, j := range st.args {
		in[k] = m.vals[j]
	}
	var out G.Value
	var err error
	var fresh *buffer
	if op, ok := st.node.Op().(PooledOp); ok {
		got := m.pool.handedOut(func() { out, err = op.DoPooled(m.pool, in...) })
		switch {
		case len(got) > 1:
			return fmt.Errorf("machine: op %v of %q took %d buffers from the pool; it may take one", op, st.name, len(got))
		case len(got) == 1:
			fresh = got[0]
		}
	} else if op, ok := st.node.Op().(G.UsePreallocDoer); ok && st.prealloc {
		got := m.pool.handedOut(func() {
			out, err = op.UsePreallocDo(m.pool.Tensor(st.node.Dtype(), false, st.node.Shape()...), in...)
		})
		fresh = got[0]
	} else {
		out, err = st.node.Op().Do(in...)
	}
	if err != nil {
		if fresh != nil {
			m.pool.put(fresh)
		}
		return fmt.Errorf("machine: %q: %w", st.name, err)
	}
	if out == nil {
		return fmt.Errorf("machine: op %v of %q returned no value", st.node.Op(), st.name)
	}
	m.vals[i] = out
	lo, hi, isDense := span(out)
	var home *buffer
	if isDense {
		if fresh != nil && lo >= fresh.lo && hi <= fresh.hi {
			home = fresh
		} else {
			for _, j := range st.args {
				if b := m.bufs[j]; b != nil && lo < b.hi && hi > b.lo {
					home = b
					break
				}
			}
		}
	}
	if fresh != nil && home != fresh {
		return fmt.Errorf("machine: op %v of %q took a buffer from the pool but returned another value", st.node.Op(), st.name)
	}
	switch {
	case home == nil:
	case st.uses > 0:
		m.bufs[i] = home
		home.refs += st.uses
	case home == fresh:
		// Nothing reads this value (a gradient nobody asked for): its buffer is free at once.
		m.vals[i] = nil
		m.pool.put(fresh)
	}
	return nil
}

// release records that one reader of step j's value has run; the value is dropped after its last reader, and its
// buffer goes back to the pool when no value living in it has readers left.
func (m *Machine) release(j int) {
	m.left[j]--
	if m.left[j] > 0 {
		return
	}
	m.vals[j] = nil
	if b := m.bufs[j]; b != nil {
		m.bufs[j] = nil
		if b.refs -= m.steps[j].uses; b.refs == 0 {
			m.pool.put(b)
		}
	}
}

// Reset is a no-op: values live only within a run. It is here so that Machine implements gorgonia.VM.
func (m *Machine) Reset() {}

// Close drops the machine's graph; the pool keeps its buffers for other machines.
func (m *Machine) Close() error {
	m.steps, m.vals, m.bufs, m.left = nil, nil, nil, nil
	return nil
}

// span returns the address range of a dense value's data.
func span(v G.Value) (lo, hi uintptr, ok bool) {
	d, isDense := v.(*tensor.Dense)
	if !isDense || d.DataSize() == 0 {
		return 0, 0, false
	}
	lo = d.Uintptr()
	return lo, lo + uintptr(d.MemSize()), true
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
