package analysis_test

import (
	"fmt"
	"math"
	"os"

	"github.com/bnzoo/bnzoo/analysis"
)

func Example() {
	specs := []analysis.LayerSpec{
		{Name: "features.0", Activation: "tanh", Placement: analysis.PlacementSwapped, Channels: 2, Lower: -1, Upper: 1},
		{Name: "features.3", Activation: "relu", Placement: analysis.PlacementSwapped, Channels: 2, Lower: 0, Upper: math.Inf(1)},
	}
	c, err := analysis.NewCollector(specs, analysis.DefaultOptions())
	if err != nil {
		fmt.Println(err)
		return
	}
	// One batch of n = 2 samples, C = 2 channels, hw = 1, laid out
	// [n][C][hw]: channel 0 saturates at +1, channel 1 sits at −0.5.
	act := []float32{1, -0.5, 1, -0.5}
	bn := []float32{0.05, -1.2, 0.7, 0}
	if err := c.Add("features.0", act, bn, 2, 1); err != nil {
		fmt.Println(err)
		return
	}
	relu := []float32{0, 2, 0, 0.5}
	if err := c.Add("features.3", relu, relu, 2, 1); err != nil {
		fmt.Println(err)
		return
	}
	r := c.Report(analysis.ReportMeta{Model: "vgg11", Dataset: "cifar10", Activation: "tanh", Placement: analysis.PlacementSwapped})
	if err := analysis.FormatTable(os.Stdout, r); err != nil {
		fmt.Println(err)
	}
	// Output:
	//             swapped
	// layer       sat     asym    |skew|  sparsity
	// features.0  0.7500  0.5000  0.0000  0.5000
	// features.3  -       -       -       0.5000
}
