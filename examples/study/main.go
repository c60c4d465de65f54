// Command study runs the conventional-vs-swapped study as a grid of training runs — {architecture} × {activation}
// × {placement} × {learning rate} × {seed} on one dataset with one recipe — and aggregates it into a verdict: each
// configuration at the learning rate chosen on a validation split, swapped − conventional paired by seed with 95%
// confidence intervals, tables and figures (docs/study.md).
//
//	go run ./examples/study -experiment order -budget medium -dataset fashion-mnist
//	go run ./examples/study -experiment order -budget quick -dataset cifar10 -data-dir ../shared/data/cifar10-jpeg.tar.gz
//	go run ./examples/study collect -dir results/study/quick-fashion-mnist/order
//	go run ./examples/study export -experiment order -budget full -dataset cifar10 -data-dir /shared/data/cifar10 \
//	    -dir /shared/bnzoo/order-full-cifar10 -out ./order-full-cifar10
//	bnzoo-study run-index -dir /shared/bnzoo/order-full-cifar10 -index 7     (what each scheduler task runs)
//
// On a cluster it runs as bnzoo-study (go build -o bnzoo-study ./examples/study), the name the exported scripts
// call; docs/cluster.md tells how. Re-running skips finished runs and resumes interrupted ones, so a killed study
// continues where it stopped. Exit status: 0 done, 1 failed, 2 bad flags, 3 collect -complete found grid points
// without a result, 128+signal interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/cli"
	"github.com/bnzoo/bnzoo/internal/study"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := train.SignalContext(context.Background(), log)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, log)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "study:", err)
	}
	os.Exit(exitCode(err))
}

// errUsage and usageError: see internal/cli.
var (
	errUsage   = cli.ErrUsage
	usageError = cli.UsageError
)

// exitCode is internal/cli's exit status, and study.ExitIncomplete for a collect that found grid points without a
// result (so that a scheduler shows the collect job failed).
func exitCode(err error) int {
	if errors.Is(err, study.ErrIncomplete) {
		return study.ExitIncomplete
	}
	return cli.ExitCode(err)
}

const usageText = `study runs a grid of training runs and aggregates it.

Usage:
  go run ./examples/study [run] [flags]     run a preset grid (skips finished runs, resumes interrupted ones), then collect
  go run ./examples/study list [flags]      print the grid's points with their indices
  go run ./examples/study collect -dir DIR  aggregate whatever runs DIR holds: summary.md (verdicts first), CSVs, figures/
  go run ./examples/study export [flags]    write grid.json, Slurm job arrays and Kubernetes Indexed Jobs with the
                                            scripts that submit them (docs/cluster.md)
  go run ./examples/study run-index -dir DIR -index I
                                            run grid point I of the study in DIR (what each scheduler task runs)

Experiments (-experiment):
%s
Budgets (-budget):
%s
Flags of run, list and export (-h after the subcommand lists them):
`

func describePresets() (exps, budgets string) {
	var e, b strings.Builder
	for _, x := range study.Experiments {
		fmt.Fprintf(&e, "  %-9s %s × %s: %s\n", x.Name, strings.Join(x.Activations, ","), strings.Join(x.Placements, ","), x.Tests)
	}
	for _, x := range study.Budgets {
		fmt.Fprintf(&b, "  %-9s %s\n", x.Name, x.About)
	}
	return e.String(), b.String()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run", "list", "export":
		return runPreset(ctx, cmd, args, stdout, stderr, log)
	case "collect":
		return runCollect(args, stdout, stderr)
	case "run-index":
		return runIndex(ctx, args, stdout, stderr, log)
	case "help":
		return runPreset(ctx, "run", []string{"-h"}, stdout, stderr, log)
	}
	return cli.FlagError(fmt.Sprintf("unknown subcommand %q (run, list, collect, export, run-index; see -h)", cmd))
}

// parse parses args into fs, turning errors into one flag error and -h into the usage.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer, header string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, header)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return cli.FlagError(err.Error() + " (see -h)")
	}
	if fs.NArg() > 0 {
		return cli.FlagError(fmt.Sprintf("unexpected argument %q (see -h)", fs.Arg(0)))
	}
	return nil
}

// presetFlags are the flags that choose and size a grid.
type presetFlags struct {
	experiment, budget, dataset, dataDir, dir, seeds, archs string
	runsDir                                                 string
	activations, placements                                 string
	epochs, trainPerClass, testPerClass, workers            int
	sweepSeeds, trackSamples                                int
	lr, valFraction                                         float64
	lrs                                                     string
	quiet, noFigures                                        bool
	// export only
	export exportFlags
}

func runPreset(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	var o presetFlags
	fs := flag.NewFlagSet("study "+cmd, flag.ContinueOnError)
	fs.StringVar(&o.experiment, "experiment", "order", "experiment preset: "+strings.Join(study.ExperimentNames(), ", "))
	fs.StringVar(&o.budget, "budget", "quick", "budget preset: "+strings.Join(study.BudgetNames(), ", "))
	fs.StringVar(&o.dataset, "dataset", "fashion-mnist", "dataset: "+strings.Join(datasets.Names(), ", "))
	fs.StringVar(&o.dataDir, "data-dir", "", "where the dataset is (default: its default location, if it has one)")
	fs.StringVar(&o.dir, "dir", "", "study directory (default results/study/<budget>-<dataset>/<experiment>); for export, the directory as the tasks see it (absolute)")
	fs.StringVar(&o.runsDir, "runs-dir", "", "where the run directories go, relative to the study directory (default ../runs for the default -dir, so the experiments of a budget and dataset share their common runs; runs otherwise)")
	fs.StringVar(&o.seeds, "seeds", "", "comma-separated seeds instead of the budget's (1,2,3)")
	fs.StringVar(&o.archs, "archs", "", "comma-separated architectures instead of the budget's")
	fs.StringVar(&o.activations, "activations", "", "comma-separated activations instead of the experiment's: "+layers.ActivationUsage())
	fs.StringVar(&o.placements, "placements", "", "comma-separated placements instead of the experiment's: conventional, swapped, none, each optionally with per-unit rules (conventional+last:50%=swapped; see docs/placement.md)")
	fs.IntVar(&o.epochs, "epochs", 0, "epochs instead of the budget's")
	fs.StringVar(&o.lrs, "lrs", "", "comma-separated learning rates instead of the budget's (each configuration gets the one with the best validation accuracy)")
	fs.Float64Var(&o.lr, "lr", 0, "one learning rate for every run instead of the budget's list (same as -lrs with one value)")
	fs.IntVar(&o.sweepSeeds, "sweep-seeds", -1, "how many leading seeds run at every learning rate instead of the budget's (0 = all seeds at every rate)")
	fs.Float64Var(&o.valFraction, "val-fraction", 0, "fraction of each class's training images held out for validation instead of the budget's (0.1)")
	fs.IntVar(&o.trackSamples, "track-samples", -1, "validation images analysed after every epoch instead of the budget's (0 = no tracking)")
	fs.IntVar(&o.trainPerClass, "train-per-class", -1, "training images per class instead of the budget's (0 = all)")
	fs.IntVar(&o.testPerClass, "test-per-class", -1, "test images per class instead of the budget's (0 = all)")
	if cmd == "run" {
		fs.IntVar(&o.workers, "workers", 1, "runs at a time (each uses every core; 1 suits a small machine)")
		fs.BoolVar(&o.quiet, "quiet", false, "no progress bars")
		fs.BoolVar(&o.noFigures, "no-figures", false, "skip the figures and comparisons when collecting")
	}
	if cmd == "export" {
		o.export.register(fs)
	}
	exps, budgets := describePresets()
	if err := parse(fs, args, stderr, fmt.Sprintf(usageText, exps, budgets)); err != nil {
		return err
	}
	// Every override, in run, list and export alike: NaN/Inf and out-of-range values are refused, naming the flag,
	// rather than ignored in favour of the preset's (issue 15).
	if err := cli.CheckFlags(fs, cli.FlagRules{Positive: []string{"lr", "cpus", "memory", "uid"}, NonNegative: []string{"epochs",
		"train-per-class", "test-per-class", "workers", "parallelism"}}); err != nil {
		return err
	}
	g, err := o.grid()
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if cmd == "export" {
			return usageError("dir", "export needs the study directory as the tasks see it (an absolute path on shared storage)")
		}
		dir = filepath.Join("results", "study", o.budget+"-"+o.dataset, o.experiment)
		if o.runsDir == "" {
			g.RunsDir = filepath.Join("..", study.RunsDir)
		}
	}
	if o.runsDir != "" {
		if filepath.IsAbs(o.runsDir) {
			return usageError("runs-dir", "must be relative to the study directory, got %q", o.runsDir)
		}
		g.RunsDir = o.runsDir
	}
	switch cmd {
	case "list":
		for _, p := range g.Points() {
			fmt.Fprintf(stdout, "%d\t%s\n", p.Index, p.ID())
		}
		return nil
	case "export":
		return o.export.run(g, dir, stdout, stderr)
	}
	if err := study.WriteGrid(dir, g); err != nil {
		return usageError("dir", "%v", err)
	}
	r, err := study.NewRunner(dir, progressFor(o.quiet || o.workers > 1, stderr), log)
	if err != nil {
		return err
	}
	points := g.Points()
	fmt.Fprintf(stdout, "study: %d runs (%s) in %s, %d at a time\n", len(points), g.Experiment+"/"+g.Budget, dir, max(1, o.workers))
	start := time.Now()
	done := 0
	runErr := r.RunAll(ctx, nil, o.workers, func(p study.Point, out study.Outcome, err error) {
		done++
		if out.Result != nil {
			p = out.Result.Point // with its resolved learning rate
		}
		fmt.Fprintf(stdout, "[%d/%d] %s: %s\n", done, len(points), p.ID(), describeOutcome(out, err))
	})
	fmt.Fprintf(stdout, "study: wall time %s\n", time.Since(start).Round(time.Second))
	if _, err := collect(dir, stdout, !o.noFigures); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// grid is the preset the flags choose, with their overrides; errors name the flag.
func (o presetFlags) grid() (*study.Grid, error) {
	dataDir := o.dataDir
	if dataDir != "" && !filepath.IsAbs(dataDir) {
		if abs, err := filepath.Abs(dataDir); err == nil {
			dataDir = abs // grid.json must hold a path that works from any working directory
		}
	}
	known := false
	for _, n := range datasets.Names() {
		known = known || n == o.dataset
	}
	if !known {
		return nil, usageError("dataset", "unknown dataset %q (valid: %s)", o.dataset, strings.Join(datasets.Names(), ", "))
	}
	if _, err := study.LookupExperiment(o.experiment); err != nil {
		return nil, usageError("experiment", "%v", err)
	}
	if _, err := study.LookupBudget(o.budget); err != nil {
		return nil, usageError("budget", "%v", err)
	}
	g, _ := study.Preset(o.experiment, o.budget, train.DataSpec{Name: o.dataset, Dir: dataDir})
	if o.seeds != "" {
		g.Seeds = nil
		for _, f := range strings.Split(o.seeds, ",") {
			s, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil {
				return nil, usageError("seeds", "%q is not a whole number", f)
			}
			g.Seeds = append(g.Seeds, s)
		}
	}
	for _, ov := range []struct {
		value string
		axis  *[]string
	}{{o.archs, &g.Archs}, {o.activations, &g.Activations}, {o.placements, &g.Placements}} {
		if ov.value != "" {
			*ov.axis = strings.Split(ov.value, ",")
		}
	}
	if o.epochs < 0 {
		return nil, usageError("epochs", "must not be negative, got %d", o.epochs)
	}
	if o.epochs > 0 {
		g.Train.Epochs = o.epochs
		if g.Train.Schedule.Kind == train.ScheduleMultiStep { // keep the milestones at the same fractions
			b, _ := study.LookupBudget(o.budget)
			g.Train.Schedule.Milestones = nil
			for _, m := range b.Schedule.Milestones {
				if mm := m * o.epochs / b.Epochs; mm > 0 && (len(g.Train.Schedule.Milestones) == 0 || mm > g.Train.Schedule.Milestones[len(g.Train.Schedule.Milestones)-1]) {
					g.Train.Schedule.Milestones = append(g.Train.Schedule.Milestones, mm)
				}
			}
		}
	}
	if o.lr < 0 || math.IsNaN(o.lr) || math.IsInf(o.lr, 0) {
		return nil, usageError("lr", "must be positive and finite, got %v", o.lr)
	}
	if o.lr > 0 {
		if o.lrs != "" {
			return nil, usageError("lr", "give -lr or -lrs, not both")
		}
		g.LRs, g.Train.LR = []float64{o.lr}, o.lr
	}
	if o.lrs != "" {
		g.LRs = nil
		for _, f := range strings.Split(o.lrs, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return nil, usageError("lrs", "%q is not a positive, finite learning rate", f)
			}
			g.LRs = append(g.LRs, v)
		}
		g.Train.LR = g.LRs[0]
	}
	if o.sweepSeeds < -1 {
		return nil, usageError("sweep-seeds", "must not be negative, got %d", o.sweepSeeds)
	}
	if o.sweepSeeds >= 0 {
		g.SweepSeeds = o.sweepSeeds
	}
	if o.valFraction != 0 {
		if !(o.valFraction > 0 && o.valFraction < 1) {
			return nil, usageError("val-fraction", "must be in (0, 1), got %v", o.valFraction)
		}
		g.Data.ValFraction = o.valFraction
	}
	switch {
	case o.trackSamples == 0:
		g.Train.Track = nil
	case o.trackSamples > 0:
		g.Train.Track = &train.Track{Samples: o.trackSamples, Options: analysis.DefaultOptions()}
	case o.trackSamples < -1:
		return nil, usageError("track-samples", "must not be negative, got %d", o.trackSamples)
	}
	if o.trainPerClass >= 0 {
		g.Data.TrainPerClass = o.trainPerClass
	}
	if o.testPerClass >= 0 {
		g.Data.TestPerClass = o.testPerClass
	}
	if err := g.Validate(); err != nil {
		flagName := "experiment"
		switch {
		case strings.HasPrefix(err.Error(), "grid: placements:"): // its rules' messages name units and models
			flagName = "placements"
		case strings.Contains(err.Error(), "lrs"):
			flagName = "lrs"
		case strings.Contains(err.Error(), "archs") || strings.Contains(err.Error(), "model"):
			flagName = "archs"
		case strings.Contains(err.Error(), "activations"):
			flagName = "activations"
		case strings.Contains(err.Error(), "placements"):
			flagName = "placements"
		case strings.Contains(err.Error(), "seeds") || strings.Contains(err.Error(), "twice"):
			flagName = "seeds"
		case strings.Contains(err.Error(), "per_class"):
			flagName = "train-per-class"
		case strings.Contains(err.Error(), "sweep_seeds"):
			flagName = "sweep-seeds"
		}
		return nil, usageError(flagName, "%v", err)
	}
	return g, nil
}

func progressFor(quiet bool, stderr io.Writer) io.Writer {
	if quiet {
		return nil
	}
	if f, ok := stderr.(*os.File); ok {
		return train.ProgressWriter(f, false)
	}
	return nil
}

func describeOutcome(out study.Outcome, err error) string {
	switch {
	case err != nil:
		return "failed: " + err.Error()
	case out.Skipped:
		return "finished before (" + accuracies(out.Result) + ")"
	}
	s := accuracies(out.Result) + fmt.Sprintf(", %.0f s", out.Seconds)
	if out.Resumed {
		s += " (resumed)"
	}
	return s
}

func accuracies(r *study.Result) string {
	if r == nil {
		return "no result"
	}
	if r.Status == study.StatusDiverged {
		return "diverged: " + r.Detail
	}
	return fmt.Sprintf("validation %.2f%% (best %.2f%% at epoch %d), test %.2f%%", 100*r.FinalValAcc, 100*r.BestValAcc,
		r.BestValEpoch, 100*r.FinalTestAcc)
}

// collect aggregates the study in dir, writes its summary files and prints the table.
func collect(dir string, stdout io.Writer, figures bool) (*study.Summary, error) {
	s, err := study.Collect(dir)
	if err != nil {
		return nil, err
	}
	if figures {
		if err := study.WriteSummaryDir(dir, s); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(stdout, "\n%d finished runs", len(s.Results))
	if s.Missing > 0 {
		fmt.Fprintf(stdout, " (%d grid points not finished: %s)", s.Missing, study.IndexRanges(s.MissingIndices))
	}
	fmt.Fprintf(stdout, "; mean ± std over seeds:\n\n%s\n", s.Table())
	if figures {
		fmt.Fprintf(stdout, "summary in %s\n", filepath.Join(dir, study.SummaryMarkdown))
	}
	return s, nil
}
