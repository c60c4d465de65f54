package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/atomicfile"
	"github.com/bnzoo/bnzoo/internal/runlock"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// A run directory holds one training run:
//
//	run.json       RunConfig, written when the run is created
//	log.csv        one row per finished epoch (EpochStats), rewritten atomically after each epoch
//	log.jsonl      the same rows as JSON Lines
//	best.json      BestCheckpoint: the end-of-epoch checkpoint with the highest accuracy on the evaluation split
//	               (the validation split when the run holds one out, see DataSpec.ValFraction)
//	metrics.jsonl  with Config.Track: per-layer saturation metrics of every finished epoch, one line per layer
//	checkpoints/   see LoadCheckpoint; the Keep latest plus the best are kept
//	.lock          held (internal/runlock) by the process training the run, from NewRun or Resume to Close
//
// Resume continues the run from its newest checkpoint; the logs are rewritten from that checkpoint's history, so
// they never show an epoch the checkpoints do not have.
const (
	runFile  = "run.json"
	bestFile = "best.json"
)

// RunConfig is everything that defines a run: with it alone (run.json) a run can be restarted from scratch, and
// every checkpoint repeats it.
type RunConfig struct {
	Model zoo.Config `json:"model"`
	// Dtype is the parameters' type, "float32" (also "") or "float64".
	Dtype string   `json:"dtype"`
	Data  DataSpec `json:"data"`
	Train Config   `json:"train"`
}

// DataSpec says where a run's data come from (see datasets.Load).
type DataSpec struct {
	Name        string `json:"name"`
	Dir         string `json:"dir,omitempty"`          // "" is the dataset's default location
	TrainSubset int    `json:"train_subset,omitempty"` // the first N training samples (0 = all)
	TestSubset  int    `json:"test_subset,omitempty"`  // the first N test samples (0 = all)
	// TrainPerClass and TestPerClass keep the first N samples of each class instead (0 = all): the balanced
	// subset for splits sorted by class (image folders, CIFAR-10's JPEG copy), where the first N are one class.
	// Each excludes the matching *Subset.
	TrainPerClass int `json:"train_per_class,omitempty"`
	TestPerClass  int `json:"test_per_class,omitempty"`
	// ValFraction, when positive, holds out that fraction of the (subsetted) training split as a validation split
	// (datasets.Holdout: stratified, drawn with ValSeed), so that every choice — the best epoch, a learning rate —
	// is made on data that is neither trained on nor the test split. The same fraction and seed give the same
	// images to every run.
	ValFraction float64 `json:"val_fraction,omitempty"`
	ValSeed     int64   `json:"val_seed,omitempty"`
}

// Splits are a run's data: what it trains on, what it validates on each epoch (nil without a validation
// fraction) and its test split.
type Splits struct {
	Train, Val, Test *datasets.Split
}

// Eval is the split a run evaluates on after each epoch and picks its best checkpoint by: the validation split
// when there is one, else the test split (the behaviour of a run without a validation fraction).
func (s Splits) Eval() *datasets.Split {
	if s.Val != nil {
		return s.Val
	}
	return s.Test
}

// Load loads the training and test splits d describes; with a validation fraction the training split is what
// remains after the hold-out (use LoadSplits to get the validation split too).
func (d DataSpec) Load() (train, test *datasets.Split, err error) {
	s, err := d.LoadSplits()
	if err != nil {
		return nil, nil, err
	}
	return s.Train, s.Test, nil
}

// LoadSplits loads the splits d describes: the subsets first, then the validation hold-out from what remains of
// the training split.
func (d DataSpec) LoadSplits() (Splits, error) {
	train, test, err := datasets.Load(d.Name, d.Dir)
	if err != nil {
		return Splits{}, err
	}
	if d.TrainSubset > 0 {
		train = datasets.Subset(train, d.TrainSubset)
	}
	if d.TestSubset > 0 {
		test = datasets.Subset(test, d.TestSubset)
	}
	if d.TrainPerClass > 0 {
		train = datasets.SubsetPerClass(train, d.TrainPerClass)
	}
	if d.TestPerClass > 0 {
		test = datasets.SubsetPerClass(test, d.TestPerClass)
	}
	out := Splits{Train: train, Test: test}
	if d.ValFraction > 0 {
		if out.Train, out.Val, err = datasets.Holdout(train, d.ValFraction, d.ValSeed); err != nil {
			return Splits{}, fmt.Errorf("val_fraction: %w", err)
		}
	}
	return out, nil
}

func (rc RunConfig) dtype() (tensor.Dtype, error) {
	if rc.Dtype == "" {
		return tensor.Float32, nil
	}
	dt, ok := dtypeNames[rc.Dtype]
	if !ok {
		return tensor.Float32, &ConfigError{Field: "dtype", Reason: fmt.Sprintf("must be float32 or float64, got %q", rc.Dtype)}
	}
	return dt, nil
}

// Validate checks the run config: the dtype and subsets, then the model (zoo.Config.Validate), then the recipe
// (Config.Validate, whose errors are *ConfigError).
func (rc RunConfig) Validate() error {
	if _, err := rc.dtype(); err != nil {
		return err
	}
	if rc.Data.TrainSubset < 0 {
		return &ConfigError{Field: "train_subset", Reason: fmt.Sprintf("must not be negative, got %d", rc.Data.TrainSubset)}
	}
	if rc.Data.TestSubset < 0 {
		return &ConfigError{Field: "test_subset", Reason: fmt.Sprintf("must not be negative, got %d", rc.Data.TestSubset)}
	}
	for _, c := range []struct {
		field        string
		perClass, of int
	}{{"train_per_class", rc.Data.TrainPerClass, rc.Data.TrainSubset}, {"test_per_class", rc.Data.TestPerClass, rc.Data.TestSubset}} {
		if c.perClass < 0 {
			return &ConfigError{Field: c.field, Reason: fmt.Sprintf("must not be negative, got %d", c.perClass)}
		}
		if c.perClass > 0 && c.of > 0 {
			return &ConfigError{Field: c.field, Reason: "cannot be combined with the first-N subset of the same split"}
		}
	}
	if f := rc.Data.ValFraction; f != 0 && !(f > 0 && f < 1) {
		return &ConfigError{Field: "val_fraction", Reason: fmt.Sprintf("must be in (0, 1) or 0 for none, got %v", f)}
	}
	if err := rc.Model.Validate(); err != nil {
		return err
	}
	return rc.Train.Validate()
}

// Run is a training run in a directory: a Trainer that checkpoints, logs and can be resumed.
type Run struct {
	Dir     string
	Config  RunConfig
	Trainer *Trainer
	last    string   // name of the newest checkpoint on disk, "" if none
	lastPos RunState // state it holds
	lock    *runlock.Lock
}

// lockFile is the run directory's lock: two processes training one run would delete each other's temporary
// checkpoints at start-up and write the same checkpoint names.
const lockFile = ".lock"

// lockRun takes the run directory's lock, failing at once when another process (or an unclosed Run) holds it.
func lockRun(dir string) (*runlock.Lock, error) {
	l, err := runlock.Acquire(filepath.Join(dir, lockFile))
	if errors.Is(err, runlock.ErrLocked) {
		return nil, fmt.Errorf("another process is training this run: %w", err)
	}
	return l, err
}

// Normalized is rc as NewRun writes it to run.json: the dtype named and the recipe's defaults filled in. Two
// configs describe the same run exactly when their normalized forms marshal to the same JSON.
func (rc RunConfig) Normalized() RunConfig {
	if rc.Dtype == "" {
		rc.Dtype = "float32"
	}
	rc.Train = rc.Train.withDefaults()
	return rc
}

// NewRun creates the run directory dir (it may exist but must not hold a run yet), writes run.json and builds the
// model (initialised from rc.Model.Seed) and its trainer. rc.Train.Progress and Logger are used as given. The
// directory stays locked against other processes (and other Runs) until Close.
func NewRun(dir string, rc RunConfig) (*Run, error) {
	if err := rc.Validate(); err != nil {
		return nil, err
	}
	rc = rc.Normalized()
	if _, err := os.Stat(filepath.Join(dir, runFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a run (%s): resume it or choose another directory", dir, runFile)
	}
	r, err := newRun(dir, rc, nil) // builds the model before anything is written
	if err != nil {
		return nil, err
	}
	if r.lock, err = lockRun(dir); err != nil {
		r.Close()
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, runFile)); err == nil { // created by another process meanwhile
		r.Close()
		return nil, fmt.Errorf("%s already holds a run (%s): resume it or choose another directory", dir, runFile)
	}
	if err := r.create(); err != nil {
		r.Close()
		return nil, err
	}
	r.Trainer.log.Info("new run", "dir", dir, "model", rc.Model.String(), "optimizer", rc.Train.Optimizer,
		"lr", rc.Train.LR, "schedule", rc.Train.Schedule.Kind, "epochs", rc.Train.Epochs)
	return r, nil
}

// create writes a new run's checkpoints directory and run.json.
func (r *Run) create() error {
	dir, rc := r.Dir, r.Config
	if err := os.MkdirAll(filepath.Join(dir, checkpointsDir), 0o755); err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	syncDir(dir)
	js, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, runFile), err)
	}
	return atomicfile.Write(filepath.Join(dir, runFile), append(js, '\n'))
}

func withRuntime(c Config, progress io.Writer, log *slog.Logger) Config {
	c.Progress, c.Logger = progress, log
	return c
}

// newRun builds the run's model and trainer, from the checkpoint ck when it is not nil.
func newRun(dir string, rc RunConfig, ck *Checkpoint) (*Run, error) {
	var m *zoo.Model
	if ck != nil {
		m = ck.Model
	} else {
		dt, err := rc.dtype()
		if err != nil {
			return nil, err
		}
		if m, err = zoo.New(rc.Model, dt); err != nil {
			return nil, err
		}
	}
	t, err := NewTrainer(m, rc.Train)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Config: rc, Trainer: t}
	t.run = r
	if ck != nil {
		if err := t.opt.LoadState(ck.OptimizerState, m.Store.Params()); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", ck.Path, err)
		}
		t.state = ck.State.RunState.clone()
		r.last, r.lastPos = ck.State.Name, t.state.clone()
	}
	return r, nil
}

// Resume opens the run in dir at its newest checkpoint (at the start when it has none yet), with the
// checkpoint's copy of the run config. Progress bars go to progress and messages to log (both may be nil). A
// missing or corrupt checkpoint is an error naming the file; Resume never falls back to an older checkpoint on
// its own. It fails at once when another process holds the run directory's lock, and otherwise holds it until
// Close.
func Resume(dir string, progress io.Writer, log *slog.Logger) (*Run, error) {
	rc, err := ReadRunConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	lock, err := lockRun(dir) // before the clean-up below, which would delete another process's partial checkpoint
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	r, err := resumeLocked(dir, rc, progress, log)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	r.lock = lock
	return r, nil
}

// resumeLocked is Resume once the run's lock is held.
func resumeLocked(dir string, rc RunConfig, progress io.Writer, log *slog.Logger) (*Run, error) {
	if err := requireCheckpointsDir(dir); err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if err := cleanLeftovers(dir); err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	path, err := LatestCheckpoint(dir)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	var ck *Checkpoint
	if path != "" {
		if ck, err = LoadCheckpoint(path); err != nil {
			return nil, fmt.Errorf("resume %s: %w", dir, err)
		}
		rc = ck.State.Run
	} else if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("resume %s: %s: %w", dir, runFile, err)
	}
	rc.Train = withRuntime(rc.Train, progress, log)
	r, err := newRun(dir, rc, ck)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	st := r.Trainer.state
	if err := writeRunLogs(dir, st.History); err != nil {
		r.Close()
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	r.Trainer.log.Info("resumed run", "dir", dir, "checkpoint", r.last, "epochs_done", st.Position.Epoch,
		"steps_into_next", st.Position.Step, "global_step", st.GlobalStep)
	return r, nil
}

// Done reports whether the run has trained all its epochs.
func (r *Run) Done() bool { return r.Trainer.state.Position.Epoch >= r.Config.Train.Epochs }

// Fit trains the run to its end from where it stands, checkpointing and logging in its directory, and returns the
// whole history. train and test must be the splits the run started with (Config.Data.Load gives them; they are
// checked by name and size). On cancellation it writes a checkpoint and returns an *InterruptedError; on a NaN or
// infinite loss, gradient or updated parameter it returns a *DivergenceError and writes nothing.
func (r *Run) Fit(ctx context.Context, train, test *datasets.Split) ([]EpochStats, error) {
	return r.Trainer.fit(ctx, train, test)
}

// Close releases the trainer's graphs and the run directory's lock.
func (r *Run) Close() {
	r.Trainer.Close()
	r.lock.Unlock()
	r.lock = nil
}

// lastPath is the path of the newest checkpoint, "" when there is none.
func (r *Run) lastPath() string {
	if r.last == "" {
		return ""
	}
	return filepath.Join(r.Dir, checkpointsDir, r.last)
}

// checkpoint writes the trainer's current state, unless the newest checkpoint already holds it or nothing has been
// trained yet, then prunes old checkpoints.
func (r *Run) checkpoint(t *Trainer) error {
	st := t.state.clone()
	if st.GlobalStep == 0 || (r.last != "" && st.GlobalStep == r.lastPos.GlobalStep && st.Position == r.lastPos.Position) {
		return nil
	}
	if st.Position.Epoch < t.Config.Epochs {
		st.LR = t.lrAt(Position{st.Position.Epoch, min(st.Position.Step, st.StepsPerEpoch-1)})
	} else {
		st.LR = t.opt.LearningRate()
	}
	st.RNG = RNGState{Seed: t.Config.Seed, Epoch: st.Position.Epoch, Step: st.Position.Step}
	cs := CheckpointState{Format: checkpointFormat, Name: nameFor(st), Time: time.Now().UTC(), RunState: st,
		Run: r.Config}
	ckDir := filepath.Join(r.Dir, checkpointsDir)
	if err := writeCheckpoint(ckDir, t, cs); err != nil {
		return err
	}
	r.last, r.lastPos = cs.Name, st
	t.log.Debug("checkpoint written", "checkpoint", r.lastPath())
	best := ""
	if st.Best != nil {
		best = st.Best.Checkpoint
	}
	return pruneCheckpoints(r.Dir, t.Config.Keep, best)
}

// endOfEpoch records a new best, checkpoints the finished epoch and rewrites the logs.
func (r *Run) endOfEpoch(t *Trainer, evaluated bool) error {
	st := &t.state
	last := st.History[len(st.History)-1]
	newBest := evaluated && (st.Best == nil || last.EvalAcc > st.Best.EvalAcc)
	if newBest {
		st.Best = &BestCheckpoint{Checkpoint: nameFor(*st), Epoch: last.Epoch, EvalAcc: last.EvalAcc}
	}
	if err := r.checkpoint(t); err != nil {
		return err
	}
	t.log.Info("checkpoint written", "checkpoint", r.lastPath())
	if newBest {
		js, _ := json.MarshalIndent(st.Best, "", "  ")
		if err := atomicfile.Write(filepath.Join(r.Dir, bestFile), append(js, '\n')); err != nil {
			return err
		}
		t.log.Info("new best", "epoch", last.Epoch, "eval_acc", last.EvalAcc, "checkpoint", st.Best.Checkpoint)
	}
	return writeRunLogs(r.Dir, st.History)
}

// ReadRunConfig reads the run.json of the run directory dir.
func ReadRunConfig(dir string) (RunConfig, error) {
	var rc RunConfig
	raw, err := os.ReadFile(filepath.Join(dir, runFile))
	if err != nil {
		return rc, fmt.Errorf("not a run directory: %w", err)
	}
	if err := json.Unmarshal(raw, &rc); err != nil {
		return rc, fmt.Errorf("%s is not valid: %w", filepath.Join(dir, runFile), err)
	}
	return rc, nil
}
