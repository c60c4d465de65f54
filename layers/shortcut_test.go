package layers

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSubsamplePadValues(t *testing.T) {
	b := NewBuilder(newTestStore(t), true)
	x := b.Input("x", 1, 2, 3, 3)
	data := make([]float64, 18)
	for i := range data {
		data[i] = float64(i)
	}
	if err := G.Let(x, tensor.New(tensor.WithShape(1, 2, 3, 3), tensor.WithBacking(data))); err != nil {
		t.Fatal(err)
	}
	y, err := SubsamplePad(x, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !y.Shape().Eq(tensor.Shape{1, 4, 2, 2}) {
		t.Fatalf("shape %v", y.Shape())
	}
	var out G.Value
	G.Read(y, &out)
	vm := G.NewTapeMachine(b.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 0, 0, 0, 0, 2, 6, 8, 9, 11, 15, 17, 0, 0, 0, 0}
	for i, v := range out.(*tensor.Dense).Float64s() {
		if v != want[i] {
			t.Fatalf("y = %v, want %v", out.(*tensor.Dense).Float64s(), want)
		}
	}
	if _, err := SubsamplePad(b.Input("z", 2, 3), 2, 1); err == nil {
		t.Fatal("a 2-D input should be rejected")
	}
}
