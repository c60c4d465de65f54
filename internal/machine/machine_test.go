package machine

import (
	"hash"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// doubleOp is a pooled test op: y = 2x, its output from the allocator without zeroing.
type doubleOp struct{ calls *int }

func (op doubleOp) Arity() int { return 1 }
func (op doubleOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op doubleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op doubleOp) Do(in ...G.Value) (G.Value, error) { return op.DoPooled(nil, in...) }
func (op doubleOp) DoPooled(a Allocator, in ...G.Value) (G.Value, error) {
	*op.calls++
	x := in[0].(*tensor.Dense)
	var y *tensor.Dense
	if a == nil {
		y = tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape()...))
	} else {
		y = a.Tensor(x.Dtype(), false, x.Shape()...)
	}
	for i, v := range x.Float64s() {
		y.Float64s()[i] = 2 * v
	}
	return y, nil
}
func (op doubleOp) ReturnsPtr() bool     { return false }
func (op doubleOp) CallsExtern() bool    { return false }
func (op doubleOp) OverwritesInput() int { return -1 }
func (op doubleOp) WriteHash(h hash.Hash) {
	h.Write([]byte("double"))
}
func (op doubleOp) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
func (op doubleOp) String() string { return "double" }

// TestMachine runs a graph with a value read twice, a reshape (an alias of its pooled input), an unused pooled
// output and Gorgonia's own ops (a reshape's Do, an Add on a pooled output), checks the results against
// hand-computed values over several runs, and checks that the pool stops growing after the first run and holds
// only as many slots as values are alive at once.
func TestMachine(t *testing.T) {
	defer func(v int) { preallocMin = v }(preallocMin)
	preallocMin = 1 // the Add below gets a pooled output too
	calls := 0
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 3), G.WithName("x"))
	double := func(n *G.Node) *G.Node {
		y, err := G.ApplyOp(doubleOp{&calls}, n)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	a := double(x)                                                  // 2x, read by b, r and c
	b := double(a)                                                  // 4x
	r := G.Must(G.Reshape(a, tensor.Shape{3, 2}))                   // 2x as 3×2, living in a's buffer
	c := G.Must(G.Add(b, G.Must(G.Reshape(r, tensor.Shape{2, 3})))) // 6x
	d := double(double(c))                                          // 24x
	_ = double(d)                                                   // 48x, read by nothing
	e := double(G.Must(G.Reshape(d, tensor.Shape{6})))              // 48x, flat
	var cv, ev G.Value
	G.Read(c, &cv)
	G.Read(e, &ev)
	pool := NewPool()
	m, err := New(g, pool)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var held int64
	for run := 0; run < 3; run++ {
		xv := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{1, 2, 3, 4, 5, float64(run)}))
		if err := G.Let(x, xv); err != nil {
			t.Fatal(err)
		}
		calls = 0
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		if calls != 6 {
			t.Fatalf("run %d: the pooled op ran %d times, want 6", run, calls)
		}
		for i, v := range xv.Float64s() {
			if got := cv.(*tensor.Dense).Float64s()[i]; got != 6*v {
				t.Errorf("run %d: c[%d] = %v, want %v", run, i, got, 6*v)
			}
			if got := ev.(*tensor.Dense).Float64s()[i]; got != 48*v {
				t.Errorf("run %d: e[%d] = %v, want %v", run, i, got, 48*v)
			}
		}
		if run == 0 {
			held = pool.Bytes()
		} else if pool.Bytes() != held {
			t.Errorf("run %d: the pool grew from %d to %d bytes", run, held, pool.Bytes())
		}
	}
	// Seven pooled outputs of 6 float64s, never more than three alive at once (the Add's two inputs and its
	// output): three slots at 16-element (slotAlign) offsets.
	if want := int64(8 * (2*slotAlign + 6)); held != want {
		t.Errorf("the pool holds %d bytes, want %d (three slots)", held, want)
	}
	// The plan's self-check catches two live values in one place.
	var placed []int
	for i, st := range m.steps {
		if st.pooled {
			placed = append(placed, i)
			m.slots[i].off = 0
		}
	}
	if err := m.checkPlan(placed); err == nil {
		t.Error("checkPlan accepted a plan with every value at offset 0")
	}
	t.Log(pool)
}

// TestMachineErrors checks that an unbound input and a pool shared by two running machines give errors.
func TestMachineErrors(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(2, 2), G.WithName("x"))
	y := G.Must(G.Add(x, x))
	var yv G.Value
	G.Read(y, &yv)
	pool := NewPool()
	m, err := New(g, pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RunAll(); err == nil || !strings.Contains(err.Error(), `input "x" has no value`) {
		t.Errorf("unbound input: error %v", err)
	}
	pool.busy = true
	if err := m.RunAll(); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("busy pool: error %v", err)
	}
}
