package train_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// toySplit is eight 1×28×28 images, two of each of four classes.
func toySplit() *datasets.Split {
	s := &datasets.Split{Name: "toy", N: 8, C: 1, H: 28, W: 28, Images: make([]uint8, 8*28*28),
		Labels: []int{0, 1, 2, 3, 0, 1, 2, 3}, Classes: []string{"a", "b", "c", "d"},
		Mean: []float64{0.5}, Std: []float64{0.25}}
	for i := range s.Images {
		s.Images[i] = uint8(i * 7)
	}
	return s
}

// A Predictor gives a model's logits and probabilities with no training recipe: here for a model just built;
// one loaded with zoo.Load works the same.
func ExamplePredictor() {
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 4, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1}, zoo.Float32)
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := train.NewPredictor(m, 4) // 4 samples per batch
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	out, err := p.Predict(context.Background(), toySplit(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	prob := out.Probabilities()
	var sum float64
	for _, v := range prob[:out.Classes] {
		sum += v
	}
	fmt.Printf("%d samples × %d logits; the first row's probabilities sum to %.6f\n", out.N, out.Classes, sum)
	acc, err := p.Accuracy(context.Background(), toySplit())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(acc.Samples, "samples; top-5 of 4 classes:", acc.Top5)
	// Output:
	// 8 samples × 4 logits; the first row's probabilities sum to 1.000000
	// 8 samples; top-5 of 4 classes: 1
}

// Data that does not fit the model is an *InputError naming both sides, before anything runs.
func ExampleInputError() {
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{3, 32, 32},
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1}, zoo.Float64)
	if err != nil {
		fmt.Println(err)
		return
	}
	tr, err := train.NewTrainer(m, train.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close()
	_, err = tr.Evaluate(context.Background(), toySplit(), nil)
	var ie *train.InputError
	fmt.Println(errors.As(err, &ie), err)
	// Output:
	// true split "toy" is 1×28×28 but the model takes 3×32×32
}
