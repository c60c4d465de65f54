// Command train trains any zoo model on any dataset into a run directory — run.json, per-epoch log.csv and
// log.jsonl, best.json and checkpoints/ — and resumes an interrupted run from its directory.
//
//	go run ./examples/train -model vgg_mini -activation tanh -placement swapped -dataset fashion-mnist -epochs 3
//	go run ./examples/train -model resnet20 -dataset cifar10 -data-dir ~/data/cifar-10-batches-bin -epochs 200 \
//	    -lr 0.1 -weight-decay 1e-4 -schedule multistep -milestones 100,150
//	go run ./examples/train -resume runs/vgg_mini-tanh-swapped-fashion-mnist-20250101-120000
//
// Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes a checkpoint and exits, printing the command that
// resumes; a second signal kills at once. Exit status: 0 done, 1 failed, 2 bad flags, 128+signal interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/cli"
	"github.com/bnzoo/bnzoo/internal/provenance"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

func main() {
	progress := train.ProgressWriter(os.Stderr, false)
	// On a terminal each epoch's bar ends on its loss and accuracy, so the informational log (which repeats them)
	// is left out there; warnings and errors (interruption, divergence) still show. Redirected, the log is all.
	level := slog.LevelInfo
	if progress != nil {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := train.SignalContext(context.Background(), log)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, progress, log)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "train:", err)
		var ie *train.InterruptedError
		if errors.As(err, &ie) {
			fmt.Fprintf(os.Stderr, "train: resume with: go run ./examples/train -resume %s\n", ie.Dir)
		}
	}
	os.Exit(exitCode(err))
}

// errUsage, usageError and exitCode: see internal/cli.
var (
	errUsage   = cli.ErrUsage
	usageError = cli.UsageError
	exitCode   = cli.ExitCode
)

// options are the parsed flags.
type options struct {
	model, activation, placement, dataset, dataDir  string
	optimizer, schedule, milestones, runDir, resume string
	width, lr, momentum, weightDecay, gamma, warmup float64
	epochs, batch, keep, every, trainSub, testSub   int
	trainPerClass, testPerClass                     int
	valFraction                                     float64
	seed                                            int64
	augment                                         string
	nesterov, noDecayBNBias, quiet                  bool
	set                                             map[string]bool // flags given on the command line
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{set: map[string]bool{}}
	def := train.DefaultConfig()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // one error line instead of the error plus the whole usage
	fs.StringVar(&o.model, "model", "vgg_mini", "model: "+strings.Join(zoo.Names(), ", "))
	fs.StringVar(&o.activation, "activation", "tanh", "activation: "+layers.ActivationUsage())
	fs.StringVar(&o.placement, "placement", "conventional", "BatchNorm placement: "+strings.Join(layers.PlacementNames(), ", ")+
		", optionally with per-unit rules: BASE+SELECTOR=PLACEMENT..., e.g. conventional+last:2=swapped (see docs/placement.md)")
	fs.Float64Var(&o.width, "width", 0, "channel width multiplier of the MobileNets (0 = 1)")
	fs.StringVar(&o.dataset, "dataset", "mnist", "dataset: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&o.dataDir, "data-dir", "", "where the dataset is (default: the dataset's default location, if it has one)")
	fs.IntVar(&o.epochs, "epochs", 3, "training epochs")
	fs.IntVar(&o.batch, "batch-size", def.BatchSize, "mini-batch size (training and evaluation)")
	fs.StringVar(&o.optimizer, "optimizer", train.OptimizerSGD, "optimizer: "+strings.Join(train.OptimizerNames(), ", "))
	fs.Float64Var(&o.lr, "lr", 0, "base learning rate (0 = 0.01 for sgd, 0.001 for adam and adamw)")
	fs.Float64Var(&o.momentum, "momentum", def.Momentum, "SGD momentum")
	fs.BoolVar(&o.nesterov, "nesterov", false, "SGD with Nesterov momentum")
	fs.Float64Var(&o.weightDecay, "weight-decay", def.WeightDecay, "weight decay: L2 for sgd and adam, decoupled for adamw")
	fs.BoolVar(&o.noDecayBNBias, "no-decay-bn-bias", false, "no weight decay on BatchNorm parameters and biases")
	fs.StringVar(&o.schedule, "schedule", train.ScheduleConstant, "learning-rate schedule: "+strings.Join(train.ScheduleNames(), ", ")+" (per step; see train.Schedule)")
	fs.StringVar(&o.milestones, "milestones", "", "multistep: comma-separated epochs after which the rate is multiplied by -gamma, e.g. 100,150")
	fs.Float64Var(&o.gamma, "gamma", 0.1, "multistep factor")
	fs.Float64Var(&o.warmup, "warmup-epochs", 0, "linear warm-up length in epochs (fractions allowed)")
	fs.StringVar(&o.augment, "augment", "auto", "training augmentation (random crop with 4-pixel padding + flip): auto (on for 32×32 and 64×64 colour sets), on, off")
	fs.Int64Var(&o.seed, "seed", 1, "seed for the initial weights and the data order (same seed → bit-identical run)")
	fs.StringVar(&o.runDir, "run-dir", "", "run directory (default runs/<model>-<activation>-<placement>-<dataset>-<time>)")
	fs.StringVar(&o.resume, "resume", "", "resume the run in this directory (no other flag but -quiet)")
	fs.IntVar(&o.keep, "keep", def.Keep, "checkpoints kept besides the best (0 = all)")
	fs.IntVar(&o.every, "checkpoint-every", 0, "steps between checkpoints (0 = at the end of each epoch only)")
	fs.IntVar(&o.trainSub, "train-subset", 0, "use only N training samples, each class in its proportion (0 = all)")
	fs.IntVar(&o.testSub, "test-subset", 0, "use only N test samples, each class in its proportion (0 = all)")
	fs.IntVar(&o.trainPerClass, "train-per-class", 0, "use only the first N training samples of each class (0 = all; balanced, for class-sorted sets such as image folders)")
	fs.IntVar(&o.testPerClass, "test-per-class", 0, "use only the first N test samples of each class (0 = all)")
	fs.Float64Var(&o.valFraction, "val-fraction", 0, "hold out this fraction of each class's training samples for validation (0 = none): epochs are evaluated and the best checkpoint chosen on it, and the test split is evaluated once, at the end")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars (they are off anyway when stderr is not a terminal)")
	usage := func() {
		fmt.Fprintf(stderr, `train trains a zoo model on a dataset into a run directory (run.json, log.csv, log.jsonl, best.json,
checkpoints/) and resumes it after an interruption with -resume DIR.

Usage: go run ./examples/train [flags]

Flags:
`)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // the flag package calls it on errors too; only -h prints the usage
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return o, err
		}
		return o, cli.FlagError(err.Error() + " (see -h)")
	}
	if fs.NArg() > 0 {
		return o, cli.FlagError(fmt.Sprintf("unexpected argument %q (see -h)", fs.Arg(0)))
	}
	var extra []string // flags given besides -resume and -quiet, in the flag package's (sorted) order
	fs.Visit(func(f *flag.Flag) {
		o.set[f.Name] = true
		if f.Name != "resume" && f.Name != "quiet" {
			extra = append(extra, f.Name)
		}
	})
	if o.resume != "" && len(extra) > 0 {
		return o, usageError(extra[0], "cannot be combined with -resume: a resumed run keeps its own config (%s)",
			filepath.Join(o.resume, "run.json"))
	}
	return o, cli.CheckFlags(fs, cli.FlagRules{Positive: []string{"gamma"}, NonNegative: []string{"width", "lr",
		"momentum", "weight-decay", "warmup-epochs"}})
}

// trainConfig turns the recipe flags into a train.Config; errors name the flag. It needs no data, so a typo fails
// before a dataset is loaded.
func (o options) trainConfig() (train.Config, error) {
	lr := o.lr
	if lr == 0 { // the optimizer's usual rate
		lr = 0.01
		if o.optimizer == train.OptimizerAdam || o.optimizer == train.OptimizerAdamW {
			lr = 0.001
		}
	}
	c := train.Config{Epochs: o.epochs, BatchSize: o.batch, Optimizer: o.optimizer, LR: lr, Momentum: o.momentum,
		Nesterov: o.nesterov, WeightDecay: o.weightDecay, NoDecayBNBias: o.noDecayBNBias,
		Schedule: train.Schedule{Kind: o.schedule, WarmupEpochs: o.warmup}, Seed: o.seed,
		CheckpointEvery: o.every, Keep: o.keep}
	if o.set["gamma"] && !(o.gamma > 0) {
		return c, usageError("gamma", "must be positive, got %v", o.gamma)
	}
	if o.schedule == train.ScheduleMultiStep || o.set["gamma"] {
		c.Schedule.Gamma = o.gamma
	}
	if o.milestones != "" {
		for _, f := range strings.Split(o.milestones, ",") {
			m, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return c, usageError("milestones", "%q is not a whole number of epochs", f)
			}
			c.Schedule.Milestones = append(c.Schedule.Milestones, m)
		}
	}
	if err := c.Validate(); err != nil {
		var ce *train.ConfigError
		if errors.As(err, &ce) {
			return c, usageError(strings.ReplaceAll(ce.Field, "_", "-"), "%s", ce.Reason)
		}
		return c, cli.FlagError(err.Error())
	}
	return c, nil
}

// checkFlags validates every flag that needs no data; errors name the flag.
func (o options) checkFlags() error {
	switch {
	case o.trainSub < 0:
		return usageError("train-subset", "must not be negative, got %d", o.trainSub)
	case o.testSub < 0:
		return usageError("test-subset", "must not be negative, got %d", o.testSub)
	case o.trainPerClass < 0:
		return usageError("train-per-class", "must not be negative, got %d", o.trainPerClass)
	case o.testPerClass < 0:
		return usageError("test-per-class", "must not be negative, got %d", o.testPerClass)
	case o.trainPerClass > 0 && o.trainSub > 0:
		return usageError("train-per-class", "cannot be combined with -train-subset")
	case o.testPerClass > 0 && o.testSub > 0:
		return usageError("test-per-class", "cannot be combined with -test-subset")
	case o.width < 0:
		return usageError("width", "must not be negative, got %v", o.width)
	case o.valFraction != 0 && !(o.valFraction > 0 && o.valFraction < 1):
		return usageError("val-fraction", "must be in (0, 1), or 0 for none, got %v", o.valFraction)
	case o.width > zoo.DefaultLimits.MaxWidth: // refused before the dataset is loaded (zoo.New would refuse it later)
		return usageError("width", "%v exceeds the limit of %v (zoo.DefaultLimits.MaxWidth)", o.width, zoo.DefaultLimits.MaxWidth)
	}
	known := false
	for _, n := range zoo.Names() {
		known = known || n == o.model
	}
	if !known {
		return usageError("model", "unknown model %q (valid: %s)", o.model, strings.Join(zoo.Names(), ", "))
	}
	if _, err := layers.ParseActivation(o.activation); err != nil {
		return usageError("activation", "%v", err)
	}
	pl, rules, err := zoo.ParsePlacementSpec(o.placement)
	if err != nil {
		return usageError("placement", "%v", err)
	}
	// Unit names do not depend on the data's shape: a rule that selects no unit fails before any data is read.
	act, _ := layers.ParseActivation(o.activation)
	probe := zoo.Config{Arch: o.model, Classes: 10, InputShape: [3]int{3, 32, 32}, Activation: act, Placement: pl,
		PlacementRules: rules, Width: o.width}
	if _, err := probe.UnitPlacements(); err != nil && !strings.Contains(err.Error(), "width") {
		return usageError("placement", "%v", err)
	}
	_, err = o.trainConfig()
	return err
}

// modelConfig is the zoo config the flags describe for data shaped like split; errors name the flag.
func (o options) modelConfig(split *datasets.Split) (zoo.Config, error) {
	act, _ := layers.ParseActivation(o.activation) // checked by checkFlags
	pl, rules, _ := zoo.ParsePlacementSpec(o.placement)
	c := zoo.Config{Arch: o.model, Classes: len(split.Classes), InputShape: [3]int{split.C, split.H, split.W},
		Activation: act, Placement: pl, PlacementRules: rules, Width: o.width, Seed: o.seed}
	if err := c.Validate(); err != nil {
		if o.width != 0 && strings.Contains(err.Error(), "width") {
			return c, usageError("width", "%v", err)
		}
		return c, usageError("model", "%v", err)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, progress io.Writer, log *slog.Logger) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.quiet {
		progress = nil
	}
	var r *train.Run
	if o.resume != "" {
		if _, err := train.ReadRunConfig(o.resume); errors.Is(err, fs.ErrNotExist) {
			return usageError("resume", "%v", err) // not a run directory: a bad flag
		} else if err != nil {
			return fmt.Errorf("-resume %s: %w", o.resume, err) // a damaged run.json: a bad file, exit status 1
		}
		if r, err = train.Resume(o.resume, progress, log); err != nil {
			return err
		}
		defer r.Close()
		if r.Done() {
			fmt.Fprintf(stdout, "train: the run in %s is complete (%s)\n", r.Dir, plural(r.Config.Train.Epochs, "epoch"))
			summarize(stdout, r, 0)
			return nil
		}
	} else if err := o.checkFlags(); err != nil {
		return err
	}
	spec := train.DataSpec{Name: o.dataset, Dir: o.dataDir, TrainSubset: o.trainSub, TestSubset: o.testSub,
		TrainPerClass: o.trainPerClass, TestPerClass: o.testPerClass, ValFraction: o.valFraction, ValSeed: o.seed}
	if r != nil {
		spec = r.Config.Data
	}
	splits, err := spec.LoadSplits()
	trainSplit, testSplit := splits.Train, splits.Test
	if err != nil {
		if r != nil {
			return fmt.Errorf("the run's data: %w", err)
		}
		return usageError("dataset", "%v", err)
	}
	if r == nil {
		rc := train.RunConfig{Dtype: "float32", Data: spec}
		if rc.Model, err = o.modelConfig(trainSplit); err != nil {
			return err
		}
		rc.Train, _ = o.trainConfig() // checked by checkFlags
		if rc.Train.Augment, err = datasets.ParseAugment(o.augment, trainSplit); err != nil {
			return usageError("augment", "%v", err)
		}
		rc.Train.Progress, rc.Train.Logger = progress, log
		info := provenance.Collect()
		rc.Train.Provenance = &info
		dir := o.runDir
		if dir == "" {
			dir = filepath.Join("runs", fmt.Sprintf("%s-%s-%s-%s-%s", o.model, rc.Model.Activation,
				zoo.PlacementSpecFileName(rc.Model.PlacementSpec()), o.dataset, time.Now().Format("20060102-150405")))
		}
		if r, err = train.NewRun(dir, rc); err != nil {
			if strings.Contains(err.Error(), "already holds a run") {
				return usageError("run-dir", "%v", err)
			}
			return err
		}
		defer r.Close()
	}
	c := r.Config
	valN := 0
	if splits.Val != nil {
		valN = splits.Val.N
	}
	fmt.Fprintf(stdout, "train: %s on %s (%d train / %d validation / %d test images), %s of %s, %s lr %g (%s schedule), run directory %s\n",
		c.Model, c.Data.Name, trainSplit.N, valN, testSplit.N, plural(c.Train.Epochs, "epoch"),
		plural((trainSplit.N+c.Train.BatchSize-1)/c.Train.BatchSize, "step"), c.Train.Optimizer, c.Train.LR,
		c.Train.Schedule.Kind, r.Dir)
	start := time.Now()
	if _, err := r.Fit(ctx, trainSplit, splits.Eval()); err != nil {
		return err
	}
	summarize(stdout, r, time.Since(start))
	if splits.Val != nil { // the test split, once, on the final model
		ev, err := r.Trainer.Evaluate(ctx, testSplit, nil)
		if err != nil {
			return fmt.Errorf("test evaluation: %w", err)
		}
		fmt.Fprintf(stdout, "train: final model on the test split: loss %.4f, accuracy %.2f%%\n", ev.Loss, 100*ev.Accuracy)
	}
	return nil
}

// evalName names the split the run evaluates each epoch on.
func evalName(r *train.Run) string {
	if r.Config.Data.ValFraction > 0 {
		return "validation"
	}
	return "test"
}

// plural writes a count with its noun: "1 epoch", "3 epochs".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// summarize prints the run's final and best test accuracy, its wall time and what its directory holds.
func summarize(w io.Writer, r *train.Run, session time.Duration) {
	st := r.Trainer.State()
	if n := len(st.History); n > 0 {
		last := st.History[n-1]
		fmt.Fprintf(w, "train: epoch %d: train loss %.4f acc %.2f%%, %s loss %.4f acc %.2f%%; wall time %s",
			last.Epoch, last.TrainLoss, 100*last.TrainAcc, evalName(r), last.EvalLoss, 100*last.EvalAcc,
			(time.Duration(last.TotalSeconds * float64(time.Second))).Round(time.Second))
		if session > 0 {
			fmt.Fprintf(w, " (this session %s)", session.Round(time.Second))
		}
		fmt.Fprintln(w)
	}
	if st.Best != nil {
		fmt.Fprintf(w, "train: best %s accuracy %.2f%% at epoch %d: %s\n", evalName(r), 100*st.Best.EvalAcc, st.Best.Epoch,
			filepath.Join(r.Dir, "checkpoints", st.Best.Checkpoint))
	}
	if names, err := train.Checkpoints(r.Dir); err == nil {
		fmt.Fprintf(w, "train: %s holds run.json, log.csv, log.jsonl, best.json and checkpoints %s\n", r.Dir,
			strings.Join(names, ", "))
	}
}
