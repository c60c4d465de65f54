package train

import (
	"context"
	"errors"
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"log/slog"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/zoo"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// EpochStats is one epoch of history, as the run directory's log.csv and log.jsonl show it.
type EpochStats struct {
	Epoch        int     `json:"epoch"`
	Step         int     `json:"step"` // global step at the end of the epoch
	LR           float64 `json:"lr"`   // learning rate of the epoch's last step
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_acc"`
	EvalLoss     float64 `json:"eval_loss"`
	EvalAcc      float64 `json:"eval_acc"`
	ImgPerSec    float64 `json:"img_per_sec"`   // training throughput, data loading included
	Seconds      float64 `json:"seconds"`       // wall time of the epoch, evaluation and tracking included
	TotalSeconds float64 `json:"total_seconds"` // wall time of the run up to the end of this epoch
	// TrackSeconds is the wall time of the end-of-epoch analysis (Config.Track), Layers its per-layer metrics.
	TrackSeconds float64         `json:"track_seconds,omitempty"`
	Layers       []LayerDynamics `json:"layers,omitempty"`
}

// Trainer trains one model. It keeps a compiled graph per batch size (the last partial batch of an epoch gets its
// own), all sharing the model's parameters, and the run's position, so that a Run can checkpoint and resume it.
type Trainer struct {
	Model  *zoo.Model
	Config Config // as given, with the defaults that zero values stand for filled in
	opt    Optimizer
	passes map[passKey]*pass
	pool   *machine.Pool // output buffers shared by the passes, which run one at a time
	state  RunState
	log    *slog.Logger
	run    *Run // the run directory, nil when training in memory only
	hooks  hooks
	// trackSplit is the subset of the evaluation split that Config.Track analyses after every epoch.
	trackSplit *datasets.Split
}

// hooks let tests act at fixed points of the loop (poison a weight or gradient, cancel, slow down).
type hooks struct {
	afterStep func(t *Trainer)                  // after each completed step and its checkpoint, if any
	grads     func(t *Trainer, grads []G.Value) // after backward, before the gradients are checked
}

type passKey struct {
	n        int
	training bool
}

// NewTrainer validates cfg and prepares the optimiser.
func NewTrainer(m *zoo.Model, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	opt, err := NewOptimizer(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Trainer{Model: m, Config: cfg, opt: opt, passes: map[passKey]*pass{},
		pool: machine.NewPool(), log: log}, nil
}

// Optimizer returns the trainer's optimizer (its state is what a checkpoint saves).
func (t *Trainer) Optimizer() Optimizer { return t.opt }

// State returns a copy of where the run stands.
func (t *Trainer) State() RunState { return t.state.clone() }

// Close releases the compiled graphs.
func (t *Trainer) Close() {
	for _, p := range t.passes {
		p.close()
	}
	t.passes = map[passKey]*pass{}
}

func (t *Trainer) pass(n int, training bool) (*pass, error) {
	k := passKey{n, training}
	if p, ok := t.passes[k]; ok {
		return p, nil
	}
	p, err := newPass(t.Model, n, zoo.BuildOptions{Training: training, Fuse: t.Config.FuseEvaluation && !training}, t.pool)
	if err != nil {
		return nil, err
	}
	t.passes[k] = p
	return p, nil
}

// Fit trains for Config.Epochs epochs from the model's current weights, evaluating on test (when not nil) after
// each (pass a validation split here to choose epochs on it), and returns the history. The learning rate follows Config.Schedule over these epochs. On cancellation it
// returns the epochs completed so far and an error wrapping ctx's. Fit keeps nothing on disk; a Run trains in a
// directory, with checkpoints and resume.
func (t *Trainer) Fit(ctx context.Context, train, test *datasets.Split) ([]EpochStats, error) {
	t.state = RunState{}
	return t.fit(ctx, train, test)
}

// fit trains from the trainer's position to the end of the run.
func (t *Trainer) fit(ctx context.Context, train, test *datasets.Split) ([]EpochStats, error) {
	// Both splits are checked before the first step, so wrong data never trains a step or waits for an epoch.
	if err := checkSplit(t.Model, train, true); err != nil {
		return nil, err
	}
	if test != nil {
		if err := checkSplit(t.Model, test, true); err != nil {
			return nil, err
		}
	}
	loader, err := datasets.NewLoaderOptions(train, t.Config.BatchSize, true, t.Config.Seed,
		datasets.LoaderOptions{Augment: t.Config.Augment})
	if err != nil {
		return nil, err
	}
	if err := t.bindData(train, test, loader.NumBatches()); err != nil {
		return nil, err
	}
	t.trackSplit = trackSubset(t.Config.Track, test)
	for t.state.Position.Epoch < t.Config.Epochs {
		if err := t.trainEpoch(ctx, loader); err != nil {
			return t.State().History, err
		}
		if err := t.finishEpoch(ctx, test); err != nil {
			return t.State().History, err
		}
	}
	return t.State().History, nil
}

// bindData records the splits of a run, or checks that a resumed run is given the same ones.
func (t *Trainer) bindData(train, test *datasets.Split, stepsPerEpoch int) error {
	if train.N == 0 {
		return fmt.Errorf("training split %s has no samples", train.Name)
	}
	rec := &DataRecord{Train: train.Name, TrainSamples: train.N}
	if test != nil {
		rec.Eval, rec.EvalSamples = test.Name, test.N
	}
	if old := t.state.Data; old != nil && *old != *rec {
		return fmt.Errorf("the run was trained on %s (%d samples) and evaluated on %q (%d samples), not on %s (%d) and %q (%d)",
			old.Train, old.TrainSamples, old.Eval, old.EvalSamples, rec.Train, rec.TrainSamples, rec.Eval, rec.EvalSamples)
	}
	if old := t.state.StepsPerEpoch; old != 0 && old != stepsPerEpoch {
		return fmt.Errorf("the run has %d steps per epoch, batch size %d on %d samples gives %d", old,
			t.Config.BatchSize, train.N, stepsPerEpoch)
	}
	t.state.Data, t.state.StepsPerEpoch = rec, stepsPerEpoch
	return nil
}

// lrAt is the scheduled learning rate of the step at pos.
func (t *Trainer) lrAt(pos Position) float64 {
	return t.Config.Schedule.LR(t.Config.LR, t.Config.Epochs, t.state.StepsPerEpoch, pos)
}

func (t *Trainer) epochLabel(e int) string {
	label := fmt.Sprintf("epoch %d/%d", e+1, t.Config.Epochs)
	if t.Config.Label != "" {
		label = t.Config.Label + " " + label
	}
	return label
}

// trainEpoch takes the remaining steps of the epoch in progress.
func (t *Trainer) trainEpoch(ctx context.Context, loader *datasets.Loader) error {
	st := &t.state
	e, nb := st.Position.Epoch, st.StepsPerEpoch
	label := t.epochLabel(e)
	if st.Position.Step > 0 && st.Position.Step < nb {
		t.log.Info("resuming epoch", "epoch", e+1, "step", st.Position.Step, "of", nb)
	}
	bar := newBar(t.Config.Progress, nb-st.Position.Step, label)
	defer barEnd(bar)
	start, before := time.Now(), st.EpochProgress.TrainSeconds
	// Batches are built in the background, a bounded number ahead, in the same order and with the same
	// augmentation as building them one by one. The stream is not tied to ctx: an interruption is noticed at the
	// top of the loop, after the current step has finished.
	stream := loader.StreamFrom(context.Background(), e, st.Position.Step)
	defer stream.Close()
	for st.Position.Step < nb {
		if err := ctx.Err(); err != nil {
			return t.interrupted(ctx, fmt.Errorf("training %s interrupted in epoch %d at batch %d/%d: %w",
				t.Model.Config, e+1, st.Position.Step, nb, err))
		}
		b := st.Position.Step
		lr := t.lrAt(st.Position)
		t.opt.SetLearningRate(lr)
		batch, ok := stream.Next()
		if !ok {
			return fmt.Errorf("epoch %d batch %d: the batch stream ended early: %v", e+1, b+1, stream.Err())
		}
		l, c, err := t.Step(batch)
		if err != nil {
			var de *DivergenceError
			if errors.As(err, &de) {
				de.Step, de.Epoch, de.Batch, de.Batches = st.GlobalStep+1, e+1, b+1, nb
				if t.run != nil {
					de.LastCheckpoint = t.run.lastPath()
				}
				t.log.Error("training diverged", "err", de)
				return de
			}
			return fmt.Errorf("epoch %d batch %d: %w", e+1, b+1, err)
		}
		p := &st.EpochProgress
		p.LossSum += l * float64(batch.N)
		p.Correct += c
		p.Seen += batch.N
		p.TrainSeconds = before + time.Since(start).Seconds()
		st.Position.Step++
		st.GlobalStep++
		barStep(bar, fmt.Sprintf("%s loss %.4f acc %.2f%% lr %.4g %.0f img/s", label, p.LossSum/float64(p.Seen),
			100*float64(p.Correct)/float64(p.Seen), lr, float64(p.Seen)/p.TrainSeconds))
		// The last step of an epoch is checkpointed after the evaluation, by finishEpoch.
		if t.run != nil && t.Config.CheckpointEvery > 0 && st.GlobalStep%t.Config.CheckpointEvery == 0 && st.Position.Step < nb {
			if err := t.run.checkpoint(t); err != nil {
				return err
			}
		}
		if t.hooks.afterStep != nil {
			t.hooks.afterStep(t)
		}
	}
	return nil
}

// finishEpoch evaluates the epoch just trained, records it and, in a run directory, checkpoints and logs it.
func (t *Trainer) finishEpoch(ctx context.Context, test *datasets.Split) error {
	st := &t.state
	e := st.Position.Epoch
	start := time.Now()
	p := st.EpochProgress
	stats := EpochStats{Epoch: e + 1, Step: st.GlobalStep, LR: t.lrAt(Position{e, st.StepsPerEpoch - 1}),
		TrainLoss: p.LossSum / float64(p.Seen), TrainAcc: float64(p.Correct) / float64(p.Seen),
		ImgPerSec: float64(p.Seen) / p.TrainSeconds}
	// When the tracked subset is the whole evaluation split, its analysis pass is the evaluation (the same
	// evaluation-mode forward pass over the same batches, so the same loss and accuracy) and runs once.
	tracked, err := t.trackEpoch(ctx, &stats)
	if err != nil {
		if ctx.Err() != nil {
			return t.interrupted(ctx, fmt.Errorf("training %s interrupted while analysing epoch %d: %w",
				t.Model.Config, e+1, err))
		}
		return fmt.Errorf("analysing epoch %d: %w", e+1, err)
	}
	if test != nil && t.trackSplit == test {
		stats.EvalLoss, stats.EvalAcc = tracked.Loss, tracked.Accuracy
	} else if test != nil {
		ev, err := t.Evaluate(ctx, test, nil)
		if err != nil {
			if ctx.Err() != nil {
				return t.interrupted(ctx, fmt.Errorf("training %s interrupted while evaluating epoch %d: %w",
					t.Model.Config, e+1, err))
			}
			return fmt.Errorf("evaluating epoch %d: %w", e+1, err)
		}
		stats.EvalLoss, stats.EvalAcc = ev.Loss, ev.Accuracy
	}
	stats.Seconds = p.TrainSeconds + time.Since(start).Seconds()
	stats.TotalSeconds = stats.Seconds
	if n := len(st.History); n > 0 {
		stats.TotalSeconds += st.History[n-1].TotalSeconds
	}
	st.History = append(st.History, stats)
	st.Position = Position{Epoch: e + 1}
	st.EpochProgress = EpochProgress{}
	t.log.Info("epoch done", "epoch", stats.Epoch, "of", t.Config.Epochs, "step", stats.Step, "lr", stats.LR,
		"train_loss", stats.TrainLoss, "train_acc", stats.TrainAcc, "eval_loss", stats.EvalLoss,
		"eval_acc", stats.EvalAcc, "img_per_sec", round1(stats.ImgPerSec), "seconds", round1(stats.Seconds))
	if t.run != nil {
		return t.run.endOfEpoch(t, test != nil)
	}
	return nil
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }

// interrupted handles a cancelled context: in a run directory it writes a checkpoint of the current position and
// returns an *InterruptedError; otherwise it returns err.
func (t *Trainer) interrupted(ctx context.Context, err error) error {
	if t.run == nil {
		return err
	}
	if cerr := t.run.checkpoint(t); cerr != nil {
		return fmt.Errorf("%w; writing the checkpoint failed: %w", err, cerr)
	}
	ie := &InterruptedError{Dir: t.run.Dir, Checkpoint: t.run.lastPath(), Position: t.state.Position,
		GlobalStep: t.state.GlobalStep, Cause: context.Cause(ctx), ctxErr: ctx.Err()}
	t.log.Warn("training interrupted", "checkpoint", ie.Checkpoint, "resume", t.run.Dir)
	return ie
}

// applyGradients takes one optimiser step on every parameter from the gradients of the pass's last run.
func (t *Trainer) applyGradients(p *pass) error {
	for i, prm := range p.params {
		g, ok := p.grads[i].(*tensor.Dense)
		if !ok {
			return fmt.Errorf("gradient of %s is %T, not a dense tensor", prm.Name, p.grads[i])
		}
		if err := t.opt.Step(prm, g); err != nil {
			return err
		}
	}
	return nil
}

// errNoSamples is returned when an evaluation split is empty.
var errNoSamples = errors.New("evaluation split has no samples")
