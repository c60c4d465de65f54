// Command swapstudy trains the same model with BatchNorm before the activation (conventional) and after it
// (swapped) on one dataset, then prints both test accuracies and a side-by-side per-layer table of saturation,
// asymmetric saturation, |skewness| and sparsity, and writes each model's JSON report (plus its history) to an
// output directory.
//
//	go run ./examples/swapstudy                      # MNIST, vgg_mini, tanh, 1 epoch
//	go run ./examples/swapstudy -dataset fashion-mnist -activation softsign -epochs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/cli"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "swapstudy:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "swapstudy:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// options are the parsed flags.
type options struct {
	dataset, dataDir, model, activation, placements, out string
	epochs, batch, trainSubset, testSubset               int
	trainPerClass, testPerClass                          int
	lr, momentum, weightDecay, delta, tau, valFraction   float64
	seed                                                 int64
	augment                                              string
	quiet, figures                                       bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("swapstudy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `swapstudy trains one model in several BatchNorm placements (default: conventional = conv → BN → act,
swapped = conv → act → BN) and compares test accuracy and per-layer saturation, asymmetric saturation, |skewness|
and sparsity side by side. Reports go to -out as <placement>.json, each run's history to
<placement>.history.json, each trained model to <placement>.safetensors (for examples/saturation-report), and a
comparison with figures to comparison/.

Usage: go run ./examples/swapstudy [flags]

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dataset, "dataset", "mnist", "dataset: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&o.dataDir, "data-dir", "", "directory holding the dataset's IDX files (default: MNIST from the GoMNIST Go module, Fashion-MNIST from /usr/share/datasets/fashion-mnist)")
	fs.StringVar(&o.model, "model", "vgg_mini", "model: "+strings.Join(zoo.Names(), ", "))
	fs.StringVar(&o.activation, "activation", "tanh", "activation: "+layers.ActivationUsage())
	fs.StringVar(&o.placements, "placements", "conventional,swapped", "comma-separated BN placements to compare: "+strings.Join(layers.PlacementNames(), ", ")+
		", each optionally with per-unit rules (conventional+last:2=swapped; see docs/placement.md)")
	fs.IntVar(&o.epochs, "epochs", 1, "training epochs per model")
	fs.IntVar(&o.batch, "batch-size", 128, "mini-batch size (training and evaluation)")
	fs.Float64Var(&o.lr, "lr", train.DefaultConfig().LR, "SGD learning rate")
	fs.Float64Var(&o.momentum, "momentum", train.DefaultConfig().Momentum, "SGD momentum")
	fs.Float64Var(&o.weightDecay, "weight-decay", train.DefaultConfig().WeightDecay, "L2 weight decay")
	fs.Int64Var(&o.seed, "seed", 1, "seed for weights and data order (same seed → bit-identical run)")
	fs.IntVar(&o.trainSubset, "train-subset", 0, "use only N training samples, each class in its proportion (0 = all)")
	fs.IntVar(&o.testSubset, "test-subset", 0, "use only N test samples, each class in its proportion (0 = all)")
	fs.IntVar(&o.trainPerClass, "train-per-class", 0, "use only the first N training samples of each class (0 = all; excludes -train-subset)")
	fs.IntVar(&o.testPerClass, "test-per-class", 0, "use only the first N test samples of each class (0 = all; excludes -test-subset)")
	fs.Float64Var(&o.valFraction, "val-fraction", 0, "hold out this fraction of each class's training samples (drawn with -seed) and evaluate every epoch on it instead of on the test split, which is then analysed once, at the end (0 = none)")
	fs.Float64Var(&o.delta, "delta", analysis.DefaultOptions().Delta, "saturation band δ: |z| > 1−δ counts as saturated")
	fs.Float64Var(&o.tau, "tau", analysis.DefaultOptions().Tau, "sparsity threshold τ: |t| ≤ τ counts as sparse")
	fs.StringVar(&o.out, "out", "results/swapstudy", "output directory for the JSON reports")
	fs.StringVar(&o.augment, "augment", "auto", "training augmentation (random crop with 4-pixel padding + flip): auto (on for 32×32 and 64×64 colour sets), on, off")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	fs.BoolVar(&o.figures, "figures", true, "also write comparison.md, comparison.csv and figures to <out>/comparison")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if err := cli.CheckFlags(fs, cli.FlagRules{NonNegative: []string{"lr", "momentum", "weight-decay"}}); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case o.batch < 1:
		return o, fmt.Errorf("%w: -batch-size must be positive, got %d", errUsage, o.batch)
	case o.epochs < 1:
		return o, fmt.Errorf("%w: -epochs must be positive, got %d", errUsage, o.epochs)
	case o.trainSubset < 0 || o.testSubset < 0:
		return o, fmt.Errorf("%w: -train-subset and -test-subset must not be negative", errUsage)
	case o.trainPerClass < 0 || o.testPerClass < 0:
		return o, fmt.Errorf("%w: -train-per-class and -test-per-class must not be negative", errUsage)
	case o.trainPerClass > 0 && o.trainSubset > 0:
		return o, fmt.Errorf("%w: -train-per-class cannot be combined with -train-subset", errUsage)
	case o.testPerClass > 0 && o.testSubset > 0:
		return o, fmt.Errorf("%w: -test-per-class cannot be combined with -test-subset", errUsage)
	case o.valFraction != 0 && !(o.valFraction > 0 && o.valFraction < 1):
		return o, fmt.Errorf("%w: -val-fraction must be in (0, 1), or 0 for none, got %v", errUsage, o.valFraction)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	act, err := layers.ParseActivation(o.activation)
	if err != nil {
		return fmt.Errorf("%w: -activation: %v", errUsage, err)
	}
	if _, err := zoo.New(zoo.Config{Arch: o.model, Classes: 10, InputShape: [3]int{1, 28, 28}, Activation: act}, tensor.Float32); err != nil {
		return fmt.Errorf("%w: -model: %v", errUsage, err)
	}
	type placement struct {
		base  layers.Placement
		rules []zoo.PlacementRule
	}
	var placements []placement
	for _, spec := range strings.Split(o.placements, ",") {
		p, rules, err := zoo.ParsePlacementSpec(spec)
		if err != nil {
			return fmt.Errorf("%w: -placements: %v", errUsage, err)
		}
		// Unit names do not depend on the data: a rule that selects no unit fails before any data is read.
		probe := zoo.Config{Arch: o.model, Classes: 10, InputShape: [3]int{1, 28, 28}, Activation: act, Placement: p,
			PlacementRules: rules}
		if _, err := probe.UnitPlacements(); err != nil {
			return fmt.Errorf("%w: -placements: %v", errUsage, err)
		}
		placements = append(placements, placement{p, rules})
	}
	trainSplit, testSplit, err := datasets.Load(o.dataset, o.dataDir)
	if err != nil {
		return fmt.Errorf("-dataset %s: %w", o.dataset, err)
	}
	if o.trainSubset > 0 {
		trainSplit = datasets.Subset(trainSplit, o.trainSubset)
	}
	if o.testSubset > 0 {
		testSplit = datasets.Subset(testSplit, o.testSubset)
	}
	if o.trainPerClass > 0 {
		trainSplit = datasets.SubsetPerClass(trainSplit, o.trainPerClass)
	}
	if o.testPerClass > 0 {
		testSplit = datasets.SubsetPerClass(testSplit, o.testPerClass)
	}
	evalSplit := testSplit // what each epoch is evaluated on
	if o.valFraction > 0 {
		if trainSplit, evalSplit, err = datasets.Holdout(trainSplit, o.valFraction, o.seed); err != nil {
			return fmt.Errorf("%w: -val-fraction: %v", errUsage, err)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	aopt := analysis.Options{Delta: o.delta, Tau: o.tau, Bins: analysis.DefaultOptions().Bins}
	if err := aopt.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	// Bars only on a terminal: redrawn with carriage returns they are noise in a redirected file.
	var progress io.Writer = stderr
	if f, ok := stderr.(*os.File); ok {
		progress = train.ProgressWriter(f, o.quiet)
	} else if o.quiet {
		progress = nil
	}
	valN := 0
	if evalSplit != testSplit {
		valN = evalSplit.N
	}
	fmt.Fprintf(stdout, "swapstudy: %s %s on %s (%d train / %d validation / %d test images), %d epoch(s), batch %d, lr %g, seed %d\n",
		o.model, act, o.dataset, trainSplit.N, valN, testSplit.N, o.epochs, o.batch, o.lr, o.seed)
	var reports []*analysis.Report
	start := time.Now()
	for _, pl := range placements {
		cfg := zoo.Config{Arch: o.model, Classes: len(trainSplit.Classes),
			InputShape: [3]int{trainSplit.C, trainSplit.H, trainSplit.W}, Activation: act, Placement: pl.base,
			PlacementRules: pl.rules, Seed: o.seed}
		rep, err := trainOne(ctx, cfg, o, trainSplit, evalSplit, testSplit, aopt, progress)
		if err != nil {
			return err
		}
		path := filepath.Join(o.out, zoo.PlacementSpecFileName(cfg.PlacementSpec())+".json")
		if err := rep.WriteJSON(path); err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	if o.figures && len(reports) > 1 {
		labels := make([]string, len(reports))
		for i, r := range reports {
			labels[i] = r.Placement
		}
		if err := analysis.WriteComparisonDir(filepath.Join(o.out, "comparison"), reports, labels); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	for _, r := range reports {
		fmt.Fprintf(stdout, "%-13s test accuracy %.2f%%\n", r.Placement, 100*r.TestAccuracy)
	}
	fmt.Fprintln(stdout)
	if err := analysis.FormatTable(stdout, reports...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreports in %s; wall time %s\n", o.out, time.Since(start).Round(time.Second))
	return nil
}

// trainOne trains one placement (evaluating each epoch on evalSplit), saves the model and its history next to the
// report, and analyses it on the test split.
func trainOne(ctx context.Context, cfg zoo.Config, o options, trainSplit, evalSplit, testSplit *datasets.Split,
	aopt analysis.Options, progress io.Writer) (*analysis.Report, error) {
	m, err := zoo.New(cfg, tensor.Float32)
	if err != nil {
		return nil, err
	}
	augment, err := datasets.ParseAugment(o.augment, trainSplit)
	if err != nil {
		return nil, fmt.Errorf("%w: -augment: %v", errUsage, err)
	}
	tcfg := train.Config{Epochs: o.epochs, BatchSize: o.batch, LR: o.lr, Momentum: o.momentum,
		WeightDecay: o.weightDecay, Seed: o.seed, Augment: augment, Progress: progress, Label: cfg.PlacementSpec()}
	tr, err := train.NewTrainer(m, tcfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	defer tr.Close()
	history, err := tr.Fit(ctx, trainSplit, evalSplit)
	if err != nil {
		return nil, err
	}
	if err := train.WriteHistory(filepath.Join(o.out, zoo.PlacementSpecFileName(cfg.PlacementSpec())+".history.json"), cfg, history); err != nil {
		return nil, err
	}
	if err := m.Save(filepath.Join(o.out, zoo.PlacementSpecFileName(cfg.PlacementSpec())+".safetensors")); err != nil {
		return nil, err
	}
	// The analysis evaluates the test split once more, with every unit tapped; a Predictor runs it without a
	// second "evaluate" bar identical to the one Fit just showed.
	if progress != nil {
		fmt.Fprintf(progress, "analysing %s on %d test images\n", cfg.PlacementSpec(), testSplit.N)
	}
	p, err := train.NewPredictor(m, o.batch)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	rep, _, err := p.Analyse(ctx, testSplit, aopt, o.dataset)
	return rep, err
}
