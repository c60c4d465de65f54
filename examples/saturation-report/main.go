// Command saturation-report turns saved models into saturation reports: for each model (a bnzoo safetensors file,
// whose config is in the file, or a run or checkpoint directory of examples/train, whose run also names the
// dataset) it runs an evaluation pass over a dataset split with every unit tapped and writes a
// report directory (report.json, layers.csv, channels.csv, figures/*.png, report.md). Given several models, or
// several existing reports with -compare, it also writes a comparison (comparison.md, comparison.csv, figures).
//
//	go run ./examples/saturation-report -dataset fashion-mnist -out results/report results/swapstudy/swapped.safetensors
//	go run ./examples/saturation-report -dataset mnist -out results/cmp conventional.safetensors swapped.safetensors
//	go run ./examples/saturation-report -samples 1000 -out results/run runs/vgg_mini-tanh-swapped-mnist-20250101-120000
//	go run ./examples/saturation-report -compare -out results/cmp results/a/report.json results/b
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/cli"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "saturation-report:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "saturation-report:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

type options struct {
	dataset, dataDir, split, out, labels string
	samples, perClass, batch             int
	seed                                 int64
	compare, quiet                       bool
	opt                                  analysis.Options
	inputs                               []string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{opt: analysis.DefaultOptions()}
	fs := flag.NewFlagSet("saturation-report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `saturation-report writes per-layer and per-channel saturation, asymmetric-saturation and
sparsity reports for saved bnzoo models, and compares several.

Usage:
  go run ./examples/saturation-report [-dataset NAME] [flags] MODEL [MODEL ...]
      (MODEL: a .safetensors file, which needs -dataset, or a run or checkpoint directory of examples/train,
      whose run names its dataset; a run directory gives its best checkpoint)
  go run ./examples/saturation-report -compare [flags] REPORT [REPORT ...]   (report.json files or report directories)

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dataset, "dataset", "", "dataset to evaluate on (default: the one the run directories name): "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&o.dataDir, "data-dir", "", "dataset directory (default: the dataset's standard location)")
	fs.StringVar(&o.split, "split", "test", "split to analyse: test or train")
	fs.IntVar(&o.samples, "samples", 0, "analyse only N samples of the split, drawn at random with each class in its proportion (0 = all)")
	fs.Int64Var(&o.seed, "seed", 1, "seed of the -samples draw")
	fs.IntVar(&o.perClass, "per-class", 0, "analyse only the first N samples of each class (0 = all; excludes -samples)")
	fs.IntVar(&o.batch, "batch-size", 128, "evaluation batch size")
	fs.StringVar(&o.out, "out", "results/report", "output directory")
	fs.StringVar(&o.labels, "labels", "", "comma-separated labels for the inputs (default: from the models' configs)")
	fs.BoolVar(&o.compare, "compare", false, "inputs are existing reports to compare, not models")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
	fs.Float64Var(&o.opt.Delta, "delta", o.opt.Delta, "saturation band δ")
	fs.Float64Var(&o.opt.Tau, "tau", o.opt.Tau, "sparsity threshold τ")
	fs.IntVar(&o.opt.Bins, "bins", o.opt.Bins, "bins of the saturation measure")
	fs.IntVar(&o.opt.TopChannels, "top-k", analysis.DefaultTopChannels, "most asymmetric channels to plot per layer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := cli.CheckFlags(fs, cli.FlagRules{}); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	o.inputs = fs.Args()
	switch {
	case len(o.inputs) == 0:
		return o, fmt.Errorf("%w: give at least one model (or report with -compare)", errUsage)
	case o.compare && len(o.inputs) < 2:
		return o, fmt.Errorf("%w: -compare needs at least two reports", errUsage)
	case o.split != "test" && o.split != "train":
		return o, fmt.Errorf("%w: -split must be test or train, got %q", errUsage, o.split)
	case o.batch < 1:
		return o, fmt.Errorf("%w: -batch-size must be positive, got %d", errUsage, o.batch)
	case o.samples < 0:
		return o, fmt.Errorf("%w: -samples must not be negative", errUsage)
	case o.perClass < 0:
		return o, fmt.Errorf("%w: -per-class must not be negative", errUsage)
	case o.perClass > 0 && o.samples > 0:
		return o, fmt.Errorf("%w: -per-class cannot be combined with -samples", errUsage)
	}
	for _, in := range o.inputs {
		// The flag package stops at the first argument that is not a flag, so a flag after the models would
		// be taken for a model file (and fail only after the models before it were analysed).
		if strings.HasPrefix(in, "-") {
			return o, fmt.Errorf("%w: %q comes after the first input; put flags before the models or reports", errUsage, in)
		}
	}
	if err := o.opt.Validate(); err != nil {
		return o, fmt.Errorf("%w: %v", errUsage, err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var labels []string
	if o.labels != "" {
		labels = strings.Split(o.labels, ",")
		if len(labels) != len(o.inputs) {
			return fmt.Errorf("%w: -labels has %d entries for %d inputs", errUsage, len(labels), len(o.inputs))
		}
	}
	var reports []*analysis.Report
	if o.compare {
		for _, in := range o.inputs {
			r, err := readReport(in)
			if err != nil {
				return err
			}
			reports = append(reports, r)
		}
	} else {
		if reports, err = analyseModels(ctx, o, stderr); err != nil {
			return err
		}
	}
	if labels == nil {
		labels = defaultLabels(reports)
	}
	if len(reports) == 1 {
		if err := analysis.WriteReportDir(o.out, reports[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", o.out)
	} else {
		for i, r := range reports {
			if o.compare {
				continue
			}
			if err := analysis.WriteReportDir(filepath.Join(o.out, labels[i]), r); err != nil {
				return err
			}
		}
		if err := analysis.WriteComparisonDir(o.out, reports, labels); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "comparison of %s written to %s\n", strings.Join(labels, ", "), o.out)
	}
	return analysis.FormatTable(stdout, reports...)
}

// readReport accepts a report.json file or a report directory.
func readReport(path string) (*analysis.Report, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return analysis.ReadReportDir(path)
	}
	return analysis.ReadReport(path)
}

// analyseModels loads each model and analyses it on the chosen split. The models are opened first: a bad file
// fails at once rather than after the dataset has been loaded.
func analyseModels(ctx context.Context, o options, stderr io.Writer) ([]*analysis.Report, error) {
	// Every model is loaded before any data or analysis, so that a bad input fails at once.
	models := make([]*zoo.Model, len(o.inputs))
	var named []train.DataSpec // the datasets the run and checkpoint directories name
	for i, path := range o.inputs {
		m, spec, err := loadModel(path)
		if err != nil {
			return nil, err
		}
		if spec == nil && o.dataset == "" {
			return nil, fmt.Errorf("%w: -dataset is required to analyse %s (a model file does not name its dataset; a run directory does)",
				errUsage, path)
		}
		if spec != nil {
			named = append(named, *spec)
		}
		models[i] = m
	}
	name, dir := o.dataset, o.dataDir
	if name == "" {
		name, dir = named[0].Name, named[0].Dir
		for i, d := range named {
			if d.Name != name || d.Dir != dir {
				return nil, fmt.Errorf("%w: the runs were trained on different datasets (%s in %s, %s in %s): give -dataset",
					errUsage, named[0].Name, o.inputs[0], d.Name, o.inputs[i])
			}
		}
	}
	trainSplit, testSplit, err := datasets.Load(name, dir)
	if err != nil {
		return nil, fmt.Errorf("-dataset %s: %w", name, err)
	}
	split := testSplit
	if o.split == "train" {
		split = trainSplit
	}
	if o.samples > 0 {
		split = datasets.Sample(split, o.samples, o.seed)
	}
	if o.perClass > 0 {
		split = datasets.SubsetPerClass(split, o.perClass)
	}
	var reports []*analysis.Report
	for i, m := range models {
		if !o.quiet {
			fmt.Fprintf(stderr, "analysing %s (%s) on %s, %d samples\n", o.inputs[i], m.Config, split.Name, split.N)
		}
		p, err := train.NewPredictor(m, o.batch)
		if err != nil {
			return nil, err
		}
		rep, _, err := p.Analyse(ctx, split, o.opt, name)
		p.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.inputs[i], err)
		}
		reports = append(reports, rep)
	}
	return reports, nil
}

// loadModel loads a model from a safetensors file, a checkpoint directory, or a run directory (its best
// checkpoint by test accuracy, else its newest). For the directories it also returns the run's data spec.
func loadModel(path string) (*zoo.Model, *train.DataSpec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.IsDir() {
		m, err := zoo.Load(path)
		return m, nil, err
	}
	ckPath := path
	if _, err := os.Stat(filepath.Join(path, "run.json")); err == nil {
		if ckPath, err = runCheckpoint(path); err != nil {
			return nil, nil, err
		}
	}
	ck, err := train.LoadCheckpoint(ckPath)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is neither a run directory (run.json) nor a checkpoint: %w", path, err)
	}
	return ck.Model, &ck.State.Run.Data, nil
}

// runCheckpoint returns the best checkpoint of the run in dir (best.json), else its newest.
func runCheckpoint(dir string) (string, error) {
	if raw, err := os.ReadFile(filepath.Join(dir, "best.json")); err == nil {
		var best train.BestCheckpoint
		if err := json.Unmarshal(raw, &best); err != nil {
			return "", fmt.Errorf("%s: best.json: %w", dir, err)
		}
		return filepath.Join(dir, "checkpoints", best.Checkpoint), nil
	}
	latest, err := train.LatestCheckpoint(dir)
	if err != nil {
		return "", err
	}
	if latest == "" {
		return "", fmt.Errorf("the run in %s has no checkpoint yet", dir)
	}
	return latest, nil
}

// defaultLabels names reports by what differs between them: placement, activation, model, or their index.
func defaultLabels(reports []*analysis.Report) []string {
	distinct := func(f func(*analysis.Report) string) bool {
		seen := map[string]bool{}
		for _, r := range reports {
			seen[f(r)] = true
		}
		return len(seen) == len(reports)
	}
	pick := func(r *analysis.Report) string {
		return fmt.Sprintf("%s_%s_%s_seed%d", r.Model, r.Activation, r.Placement, r.Seed)
	}
	switch {
	case distinct(func(r *analysis.Report) string { return r.Placement }):
		pick = func(r *analysis.Report) string { return r.Placement }
	case distinct(func(r *analysis.Report) string { return r.Activation }):
		pick = func(r *analysis.Report) string { return r.Activation }
	case distinct(func(r *analysis.Report) string { return r.Activation + "_" + r.Placement }):
		pick = func(r *analysis.Report) string { return r.Activation + "_" + r.Placement }
	}
	out := make([]string, len(reports))
	for i, r := range reports {
		out[i] = strings.NewReplacer(":", "_", "/", "_").Replace(pick(r))
	}
	return out
}
