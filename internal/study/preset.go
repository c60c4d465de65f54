package study

import (
	"fmt"
	"strings"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/train"
)

// Experiment is one step of the study's argument: which activations and placements its grid crosses, and what
// it tests.
type Experiment struct {
	Name        string
	Activations []string
	Placements  []string
	Tests       string
}

// Experiments are the study's presets, in the order of the argument.
var Experiments = []Experiment{
	{Name: "order", Activations: []string{"relu", "tanh", "lecun_tanh", "softsign"},
		Placements: []string{"conventional", "swapped"},
		Tests:      "the headline comparison: does BN after a bounded activation (swapped) beat BN before it (conventional)?"},
	{Name: "shifted", Activations: []string{"tanh", "shifted_tanh:0.5", "shifted_tanh:1", "shifted_tanh:2"},
		Placements: []string{"swapped"},
		Tests:      "swapped models with tanh(x − s), s = 0, 0.5, 1, 2: does forcing asymmetric saturation help?"},
	{Name: "induced", Activations: []string{"tanh", "shifted_tanh:0.5", "shifted_tanh:1", "shifted_tanh:2"},
		Placements: []string{"conventional", "swapped"},
		Tests: "the shift in both orders: a BN before the activation can undo a shift (its β absorbs it), one after " +
			"cannot; relates accuracy to asymmetric_saturation across runs"},
	{Name: "depth", Activations: []string{"tanh", "lecun_tanh", "softsign"},
		Placements: []string{"conventional", "swapped", "conventional+first:50%=swapped", "conventional+last:50%=swapped"},
		Tests: "where in the network the swap matters: only the first half of the units swapped, or only the last " +
			"half (⌊n/2⌋ each; an odd middle unit stays conventional), against conventional and against all swapped"},
	{Name: "sparsity", Activations: []string{"relu", "tanh", "lecun_tanh", "softsign", "sigmoid", "hardtanh"},
		Placements: []string{"conventional", "swapped"},
		Tests:      "relates accuracy to the sparsity of what the next layer receives, across activations and orders"},
}

// Budget is a size of study: the architectures, seeds, learning rates, epochs and data of every run.
type Budget struct {
	Name  string
	Archs []string
	Seeds []int64
	// LRs is the learning-rate axis, swept on the first SweepSeeds seeds (see Grid.LRs).
	LRs        []float64
	SweepSeeds int
	// Epochs, Schedule: the recipe's length and learning-rate decay (lr 0.1, SGD momentum 0.9, weight decay 5e-4,
	// batch 128 in every budget).
	Epochs   int
	Schedule train.Schedule
	// PerClass bounds the training and test samples per class (0 = all); ValFraction of the training samples
	// of each class are held out for validation (with seed ValSeed, the same images in every run).
	TrainPerClass, TestPerClass int
	ValFraction                 float64
	// TrackSamples validation images are analysed after every epoch (saturation dynamics).
	TrackSamples int
	About        string
}

// valSeed draws every preset's validation split: one fixed seed, so that every grid point, every experiment and
// every budget of a dataset validate on the same draw.
const valSeed = 20261206

// Budgets are the size presets.
var Budgets = []Budget{
	{Name: "quick", Archs: []string{"vgg_mini"}, Seeds: []int64{1, 2, 3}, LRs: []float64{0.01, 0.1}, SweepSeeds: 1,
		Epochs: 2, Schedule: train.Schedule{Kind: train.ScheduleCosine}, TrainPerClass: 500, TestPerClass: 200,
		ValFraction: 0.1, TrackSamples: 500,
		About: "a smoke test, seconds per run: vgg_mini, 500 training images per class (10% held out for validation), " +
			"200 test images per class, 2 epochs, cosine decay; lr 0.01 and 0.1 on seed 1, seeds 2–3 at the chosen rate"},
	{Name: "medium", Archs: []string{"vgg_mini"}, Seeds: []int64{1, 2, 3, 4, 5}, LRs: []float64{0.01, 0.03, 0.1},
		SweepSeeds: 1, Epochs: 4, Schedule: train.Schedule{Kind: train.ScheduleCosine}, TrainPerClass: 1000,
		TestPerClass: 1000, ValFraction: 0.1, TrackSamples: 1000,
		About: "a verdict on 2 cores in 1–1.5 hours per experiment and dataset: vgg_mini, 1,000 training images " +
			"per class (900 train + 100 validation), 1,000 test images per class, 4 epochs, cosine decay; lr 0.01, " +
			"0.03 and 0.1 on seed 1, seeds 2–5 at each configuration's chosen rate"},
	{Name: "full", Archs: []string{"vgg11", "resnet20"}, Seeds: []int64{1, 2, 3, 4, 5}, LRs: []float64{0.03, 0.1},
		SweepSeeds: 1, Epochs: 160, Schedule: train.Schedule{Kind: train.ScheduleMultiStep, Milestones: []int{80, 120}},
		ValFraction: 0.1, TrackSamples: 1000,
		About: "the paper-style recipe: vgg11 and resnet20, all data (10% of it held out for validation), 160 " +
			"epochs, lr ×0.1 after epochs 80 and 120; lr 0.03 and 0.1 on seed 1, seeds 2–5 at the chosen rate " +
			"(hours to days per run on a CPU)"},
}

// Recipe is the shared training recipe of every preset: SGD with momentum 0.9, weight decay 5e-4, batch 128,
// the budget's epochs and schedule, and the end-of-epoch tracking of saturation; the learning rate is each
// point's (LR holds the first of the budget's rates).
func (b Budget) Recipe() train.Config {
	c := train.DefaultConfig()
	c.LR, c.Momentum, c.WeightDecay, c.BatchSize = b.LRs[0], 0.9, 5e-4, 128
	c.Epochs, c.Schedule = b.Epochs, b.Schedule
	if b.TrackSamples > 0 {
		c.Track = &train.Track{Samples: b.TrackSamples, Options: analysis.DefaultOptions()}
	}
	return c
}

// ExperimentNames and BudgetNames list the presets.
func ExperimentNames() []string {
	return names(len(Experiments), func(i int) string { return Experiments[i].Name })
}
func BudgetNames() []string {
	return names(len(Budgets), func(i int) string { return Budgets[i].Name })
}

func names(n int, at func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = at(i)
	}
	return out
}

// LookupExperiment and LookupBudget find a preset by name; the error lists the valid names.
func LookupExperiment(name string) (Experiment, error) {
	for _, e := range Experiments {
		if e.Name == name {
			return e, nil
		}
	}
	return Experiment{}, fmt.Errorf("unknown experiment %q (valid: %s)", name, strings.Join(ExperimentNames(), ", "))
}

func LookupBudget(name string) (Budget, error) {
	for _, b := range Budgets {
		if b.Name == name {
			return b, nil
		}
	}
	return Budget{}, fmt.Errorf("unknown budget %q (valid: %s)", name, strings.Join(BudgetNames(), ", "))
}

// Preset is the grid of experiment × budget on the dataset data (Dir may be ""), with the budget's validation
// hold-out, augmentation "auto" (on for the 32×32 and 64×64 colour sets, so for CIFAR) and the default analysis
// options.
func Preset(experiment, budget string, data train.DataSpec) (*Grid, error) {
	e, err := LookupExperiment(experiment)
	if err != nil {
		return nil, err
	}
	b, err := LookupBudget(budget)
	if err != nil {
		return nil, err
	}
	data.TrainPerClass, data.TestPerClass = b.TrainPerClass, b.TestPerClass
	data.ValFraction, data.ValSeed = b.ValFraction, valSeed
	g := &Grid{Experiment: e.Name, Budget: b.Name,
		Archs: append([]string(nil), b.Archs...), Activations: append([]string(nil), e.Activations...),
		Placements: append([]string(nil), e.Placements...), Seeds: append([]int64(nil), b.Seeds...),
		LRs: append([]float64(nil), b.LRs...), SweepSeeds: b.SweepSeeds,
		Data: data, Train: b.Recipe(), Augment: "auto", Analysis: analysis.DefaultOptions()}
	return g, nil
}
