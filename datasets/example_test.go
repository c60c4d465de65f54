package datasets_test

import (
	"fmt"

	"github.com/bnzoo/bnzoo/datasets"
)

// A Loader walks a split in normalised mini-batches; the last batch is
// partial rather than dropped.
func ExampleNewLoader() {
	s := &datasets.Split{
		Name: "toy", N: 5, C: 1, H: 1, W: 2,
		Images:  []uint8{0, 255, 51, 102, 0, 0, 255, 255, 102, 51},
		Labels:  []int{0, 1, 0, 1, 1},
		Classes: []string{"dark", "light"},
		Mean:    []float64{0.5},
		Std:     []float64{0.5},
	}
	l, err := datasets.NewLoader(s, 2, false, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	order := l.Epoch(0)
	var b datasets.Batch
	for i := range l.NumBatches() {
		l.Batch(order, i, &b)
		fmt.Printf("batch %d: N=%d Index=%v Y=%v X=%.1f\n", i, b.N, b.Index, b.Y, b.X)
	}
	// Output:
	// batch 0: N=2 Index=[0 1] Y=[0 1] X=[-1.0 1.0 -0.6 -0.2]
	// batch 1: N=2 Index=[2 3] Y=[0 1] X=[-1.0 -1.0 1.0 1.0]
	// batch 2: N=1 Index=[4] Y=[1] X=[-0.2 -0.6]
}

// Load resolves a dataset by name; unknown names list the valid ones.
func ExampleLoad() {
	_, _, err := datasets.Load("cifar10", "")
	fmt.Println(err)
	fmt.Println(datasets.Names())
	// Output:
	// datasets: unknown dataset "cifar10"; valid names: fashion-mnist (or fashion_mnist, fmnist), mnist
	// [fashion-mnist mnist]
}
