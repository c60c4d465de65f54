package study

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// Runner runs the points of a grid into a study directory. The data are loaded once and shared by every run.
type Runner struct {
	Dir  string
	Grid *Grid
	// Progress receives the progress bars of a run (nil: none); Log the runs' messages (nil: discarded).
	Progress io.Writer
	Log      *slog.Logger

	once    sync.Once
	splits  train.Splits
	dataErr error
	// load replaces Grid.Data.LoadSplits when set (tests give the runner doctored splits).
	load func() (train.Splits, error)
}

// Outcome is what RunPoint did with a point.
type Outcome struct {
	Result *Result
	// Skipped is true when the point had finished before (its result.json existed); Resumed when its run directory
	// held an unfinished run that was continued.
	Skipped, Resumed bool
	Seconds          float64 // wall time spent on the point in this call
}

// NewRunner opens the study directory dir, which must hold a grid.json (see WriteGrid).
func NewRunner(dir string, progress io.Writer, log *slog.Logger) (*Runner, error) {
	g, err := ReadGrid(filepath.Join(dir, GridFile))
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Runner{Dir: dir, Grid: g, Progress: progress, Log: log}, nil
}

// data loads the grid's splits once.
func (r *Runner) data() (train.Splits, error) {
	r.once.Do(func() {
		load := r.Grid.Data.LoadSplits
		if r.load != nil {
			load = r.load
		}
		r.splits, r.dataErr = load()
		if r.dataErr != nil {
			r.dataErr = fmt.Errorf("data %s: %w", r.Grid.Data.Name, r.dataErr)
		}
	})
	return r.splits, r.dataErr
}

// Resolve returns p with its learning rate: p itself for a sweep point, and for a point at its configuration's
// chosen rate the rate chosen from the finished sweep runs on disk (an error naming the missing sweep points when
// the sweep has not finished).
func (r *Runner) Resolve(p Point) (Point, error) {
	if !p.Chosen() {
		return p, nil
	}
	var results []*Result
	for _, q := range r.Grid.Points()[:r.Grid.SweepPoints()] {
		if q.Config() != p.Config() {
			continue
		}
		res, err := ReadResult(r.Grid.RunDir(r.Dir, q))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, err
		}
		results = append(results, res)
	}
	lr, err := chosenLR(r.Grid, results, p)
	if err != nil {
		return p, err
	}
	p.LR = lr
	return p, nil
}

// RunConfig is the train run config of point p on data shaped like split.
func (r *Runner) RunConfig(p Point, split *datasets.Split) (train.RunConfig, error) {
	if p.Chosen() {
		return train.RunConfig{}, fmt.Errorf("point %s: its learning rate is not resolved (Runner.Resolve)", p.ID())
	}
	act, err := layers.ParseActivation(p.Activation)
	if err != nil {
		return train.RunConfig{}, err
	}
	pl, rules, err := zoo.ParsePlacementSpec(p.Placement)
	if err != nil {
		return train.RunConfig{}, err
	}
	rc := train.RunConfig{Dtype: "float32", Data: r.Grid.Data, Train: r.Grid.Train,
		Model: zoo.Config{Arch: p.Arch, Classes: len(split.Classes), InputShape: [3]int{split.C, split.H, split.W},
			Activation: act, Placement: pl, PlacementRules: rules, Width: r.Grid.Width, Seed: p.Seed}}
	rc.Train.Seed = p.Seed
	rc.Train.LR = p.LR
	rc.Train.Label = p.ID()
	if rc.Train.Augment, err = datasets.ParseAugment(r.Grid.Augment, split); err != nil {
		return rc, err
	}
	return rc.Normalized(), rc.Validate()
}

// RunPoint brings point p to its end: it resolves p's learning rate (Resolve), returns the point's result when it
// had finished before, resumes its run when the run directory holds an unfinished one (after checking that it is
// this point's run), or starts it. The run trains on the training split and validates on the validation split
// after every epoch (its best checkpoint is chosen there); then the final model is analysed on the test split
// (report.json, and the final test accuracy), the checkpoint of the best validation epoch is evaluated on the test
// split, and result.json is written. A run that diverges is recorded with status "diverged". A cancelled ctx
// returns the *train.InterruptedError with a checkpoint written.
func (r *Runner) RunPoint(ctx context.Context, p Point) (Outcome, error) {
	start := time.Now()
	p, err := r.Resolve(p)
	if err != nil {
		return Outcome{}, err
	}
	dir := r.Grid.RunDir(r.Dir, p)
	if res, err := ReadResult(dir); err == nil {
		if res.Point.ID() != p.ID() {
			return Outcome{}, fmt.Errorf("%s holds the result of %s, not of %s", filepath.Join(dir, ResultFile), res.Point.ID(), p.ID())
		}
		return Outcome{Result: res, Skipped: true}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Outcome{}, err
	}
	unlock, err := lockPoint(dir)
	if err != nil {
		return Outcome{}, err
	}
	finished := false
	defer func() { unlock(finished) }()
	if res, err := ReadResult(dir); err == nil { // finished by another process between the check above and the lock
		finished = true
		return Outcome{Result: res, Skipped: true}, nil
	}
	splits, err := r.data()
	if err != nil {
		return Outcome{}, err
	}
	trainSplit, testSplit := splits.Train, splits.Test
	rc, err := r.RunConfig(p, trainSplit)
	if err != nil {
		return Outcome{}, fmt.Errorf("point %d (%s): %w", p.Index, p.ID(), err)
	}
	run, resumed, err := r.openRun(dir, rc)
	if err != nil {
		return Outcome{}, err
	}
	defer run.Close()
	out := Outcome{Resumed: resumed}
	res := &Result{Point: p, Status: StatusDone, Dataset: rc.Data.Name, TrainSamples: trainSplit.N, TestSamples: testSplit.N}
	if splits.Val != nil {
		res.ValSamples = splits.Val.N
	}
	if !run.Done() {
		if _, err := run.Fit(ctx, trainSplit, splits.Eval()); err != nil {
			var div *train.DivergenceError
			if !errors.As(err, &div) {
				return out, err
			}
			res.Status, res.Detail = StatusDiverged, div.Error()
			res.fillHistory(run.Trainer.State())
			r.Log.Warn("run diverged", "point", p.ID(), "err", div)
			if err := WriteResult(dir, res); err != nil {
				return out, err
			}
			finished = true
			out.Result, out.Seconds = res, time.Since(start).Seconds()
			return out, nil
		}
	}
	res.fillHistory(run.Trainer.State())
	aStart := time.Now()
	rep, _, err := run.Trainer.Analyse(ctx, testSplit, r.Grid.Analysis, rc.Data.Name)
	if err != nil {
		return out, fmt.Errorf("analysis of %s: %w", p.ID(), err)
	}
	res.AnalysisSeconds = time.Since(aStart).Seconds()
	res.FinalTestAcc, res.Provenance = rep.TestAccuracy, rep.Provenance
	if res.BestValTestAcc, err = bestValTestAcc(ctx, run, res, testSplit); err != nil {
		return out, fmt.Errorf("test evaluation of the best validation epoch of %s: %w", p.ID(), err)
	}
	if err := rep.WriteJSON(filepath.Join(dir, ReportFile)); err != nil {
		return out, err
	}
	res.Layers, res.Mean = summarizeLayers(rep)
	if err := WriteResult(dir, res); err != nil {
		return out, err
	}
	finished = true
	out.Result, out.Seconds = res, time.Since(start).Seconds()
	return out, nil
}

// bestValTestAcc evaluates the checkpoint of the run's best validation epoch on test: the final model's accuracy
// when that epoch is the last one, else the checkpoint's, loaded beside the run's trainer.
func bestValTestAcc(ctx context.Context, run *train.Run, res *Result, test *datasets.Split) (float64, error) {
	st := run.Trainer.State()
	if st.Best == nil || st.Best.Epoch == res.Epochs {
		return res.FinalTestAcc, nil
	}
	ck, err := train.LoadCheckpoint(filepath.Join(run.Dir, "checkpoints", st.Best.Checkpoint))
	if err != nil {
		return 0, err
	}
	cfg := run.Config.Train
	cfg.Progress, cfg.Logger, cfg.Track = nil, nil, nil
	t, err := train.NewTrainer(ck.Model, cfg)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	ev, err := t.Evaluate(ctx, test, nil)
	return ev.Accuracy, err
}

// openRun resumes the run in dir when it holds one with exactly the config rc (anything else there is an error
// naming the file) and creates it otherwise.
func (r *Runner) openRun(dir string, rc train.RunConfig) (run *train.Run, resumed bool, err error) {
	have, err := train.ReadRunConfig(dir)
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "run.json")); statErr == nil {
			return nil, false, err // present but unreadable
		}
		rc.Train.Progress, rc.Train.Logger = r.Progress, r.Log
		run, err = train.NewRun(dir, rc)
		return run, false, err
	}
	want, _ := json.Marshal(rc)
	got, _ := json.Marshal(have.Normalized())
	if string(want) != string(got) {
		return nil, false, fmt.Errorf("%s holds a different run than grid point %s (the grid or the data changed?): "+
			"remove the directory to rerun it\n  have %s\n  want %s", filepath.Join(dir, "run.json"), filepath.Base(dir), got, want)
	}
	run, err = train.Resume(dir, r.Progress, r.Log)
	return run, true, err
}

// RunAll runs every given point (all of the grid's when points is nil) with a pool of workers (at least 1),
// calling report after each point (from one goroutine at a time). The sweep points run first and the points at a
// chosen learning rate only once they have all ended, since their rate depends on the sweep. It goes on past a
// failed point and returns the failures joined; after ctx is cancelled it starts no new point and returns the
// interruption.
func (r *Runner) RunAll(ctx context.Context, points []Point, workers int, report func(Point, Outcome, error)) error {
	if points == nil {
		points = r.Grid.Points()
	}
	var sweep, chosen []Point
	for _, p := range points {
		if p.Chosen() {
			chosen = append(chosen, p)
		} else {
			sweep = append(sweep, p)
		}
	}
	errs := []error{r.runPool(ctx, sweep, workers, report)}
	if ctx.Err() == nil {
		errs = append(errs, r.runPool(ctx, chosen, workers, report))
	}
	return errors.Join(errs...)
}

// runPool runs points with a pool of workers; see RunAll.
func (r *Runner) runPool(ctx context.Context, points []Point, workers int, report func(Point, Outcome, error)) error {
	if len(points) == 0 {
		return nil
	}
	workers = max(1, min(workers, len(points)))
	jobs := make(chan Point)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				out, err := r.RunPoint(ctx, p)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("point %d (%s): %w", p.Index, p.ID(), err))
				}
				if report != nil {
					report(p, out, err)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, p := range points {
		select {
		case jobs <- p:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil && len(errs) == 0 {
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}
