package datasets_test

import (
	"context"
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
	_, _, err := datasets.Load("svhn", "")
	fmt.Println(err)
	fmt.Println(datasets.Names())
	// Output:
	// datasets: unknown dataset "svhn"; valid names: cifar10 (or cifar-10, cifar_10), cifar100 (or cifar-100, cifar_100, cifar100-fine), cifar100-coarse (or cifar-100-coarse, cifar100_coarse), fashion-mnist (or fashion_mnist, fmnist), imagefolder (or image-folder, image_folder), mnist, tiny-imagenet (or tinyimagenet, tiny_imagenet)
	// [cifar10 cifar100 cifar100-coarse fashion-mnist imagefolder mnist tiny-imagenet]
}

// A training loader augments each sample with a random crop of its
// zero-padded image and a random flip, a function of (seed, epoch, sample)
// only, and Stream builds the batches of an epoch in the background. Here
// one 8×8 image with pixel (y, x) = 10y+x+1 goes through three epochs; each
// line shows the middle row of the augmented image (0 is the padding).
func ExampleLoader_Stream() {
	s := &datasets.Split{
		Name: "toy", N: 1, C: 1, H: 8, W: 8,
		Images:  make([]uint8, 64),
		Labels:  []int{0},
		Classes: []string{"a"},
		Mean:    []float64{0},
		Std:     []float64{1.0 / 255}, // normalised value = raw pixel value
	}
	for i := range s.Images {
		s.Images[i] = uint8(10*(i/8) + i%8 + 1)
	}
	l, err := datasets.NewLoaderOptions(s, 1, true, 7, datasets.LoaderOptions{Augment: true, Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for epoch := range 3 {
		st := l.Stream(context.Background(), epoch)
		for b, ok := st.Next(); ok; b, ok = st.Next() {
			fmt.Printf("epoch %d %+v: %.0f\n", epoch, datasets.RandomCropFlip(7, epoch, b.Index[0]), b.X[32:40])
		}
		st.Close()
		if err := st.Err(); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// epoch 0 {Top:3 Left:5 Flip:false}: [32 33 34 35 36 37 38 0]
	// epoch 1 {Top:0 Left:3 Flip:true}: [7 6 5 4 3 2 1 0]
	// epoch 2 {Top:5 Left:4 Flip:false}: [51 52 53 54 55 56 57 58]
}
