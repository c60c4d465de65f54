// Command saturation-report turns saved models into saturation reports: for each model (a bnzoo safetensors file;
// its config is in the file) it runs an evaluation pass over a dataset split with every unit tapped and writes a
// report directory (report.json, layers.csv, channels.csv, figures/*.png, report.md). Given several models, or
// several existing reports with -compare, it also writes a comparison (comparison.md, comparison.csv, figures).
//
//	go run ./examples/saturation-report -dataset fashion-mnist -out results/report results/swapstudy/swapped.safetensors
//	go run ./examples/saturation-report -dataset mnist -out results/cmp conventional.safetensors swapped.safetensors
//	go run ./examples/saturation-report -compare -out results/cmp results/a/report.json results/b
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
	samples, batch                       int
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
  go run ./examples/saturation-report -dataset NAME [flags] MODEL.safetensors [MODEL.safetensors ...]
  go run ./examples/saturation-report -compare [flags] REPORT [REPORT ...]   (report.json files or report directories)

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.dataset, "dataset", "", "dataset to evaluate on: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&o.dataDir, "data-dir", "", "dataset directory (default: the dataset's standard location)")
	fs.StringVar(&o.split, "split", "test", "split to analyse: test or train")
	fs.IntVar(&o.samples, "samples", 0, "analyse only the first N samples of the split (0 = all)")
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
	case !o.compare && o.dataset == "":
		return o, fmt.Errorf("%w: -dataset is required to analyse models", errUsage)
	case o.split != "test" && o.split != "train":
		return o, fmt.Errorf("%w: -split must be test or train, got %q", errUsage, o.split)
	case o.batch < 1:
		return o, fmt.Errorf("%w: -batch-size must be positive, got %d", errUsage, o.batch)
	case o.samples < 0:
		return o, fmt.Errorf("%w: -samples must not be negative", errUsage)
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
	models := make([]*zoo.Model, len(o.inputs))
	for i, path := range o.inputs {
		m, err := zoo.Load(path)
		if err != nil {
			return nil, err
		}
		models[i] = m
	}
	trainSplit, testSplit, err := datasets.Load(o.dataset, o.dataDir)
	if err != nil {
		return nil, fmt.Errorf("-dataset %s: %w", o.dataset, err)
	}
	split := testSplit
	if o.split == "train" {
		split = trainSplit
	}
	if o.samples > 0 {
		split = datasets.Subset(split, o.samples)
	}
	var reports []*analysis.Report
	for i, path := range o.inputs {
		m := models[i]
		if s := m.Config.InputShape; s != [3]int{split.C, split.H, split.W} {
			return nil, fmt.Errorf("%s: model takes %v inputs, dataset %s has %d×%d×%d", path, s, o.dataset, split.C, split.H, split.W)
		}
		cfg := train.DefaultConfig()
		cfg.BatchSize = o.batch
		cfg.Label = m.Config.Placement.String()
		if !o.quiet {
			cfg.Progress = stderr
		}
		tr, err := train.NewTrainer(m, cfg)
		if err != nil {
			return nil, err
		}
		rep, _, err := tr.Analyse(ctx, split, o.opt, o.dataset)
		tr.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		reports = append(reports, rep)
	}
	return reports, nil
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
