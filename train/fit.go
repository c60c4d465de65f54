package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// Config is the training recipe.
type Config struct {
	Epochs        int
	BatchSize     int     // training batch size
	EvalBatchSize int     // evaluation batch size; 0 means BatchSize
	LR            float64 // SGD learning rate, constant over the run
	Momentum      float64
	WeightDecay   float64
	// Seed drives the data order (the model's initial weights come from its own config's seed).
	Seed int64
	// Progress receives the progress bars (usually os.Stderr); nil trains silently.
	Progress io.Writer
	// Label prefixes the bar's description, e.g. "swapped".
	Label string
}

// DefaultConfig is a recipe that trains the study's small models well in one epoch: SGD lr 0.01, momentum 0.9,
// weight decay 5e-4, batch 128.
func DefaultConfig() Config {
	return Config{Epochs: 1, BatchSize: 128, LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4, Seed: 1}
}

// Validate returns one error naming the first bad field.
func (c Config) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs must be positive, got %d", c.Epochs)
	case c.BatchSize < 1:
		return fmt.Errorf("batch size must be positive, got %d", c.BatchSize)
	case c.EvalBatchSize < 0:
		return fmt.Errorf("evaluation batch size must not be negative, got %d", c.EvalBatchSize)
	}
	_, err := NewSGD(c.LR, c.Momentum, c.WeightDecay)
	return err
}

// EpochStats is one epoch of history.
type EpochStats struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	ImgPerSec float64 `json:"img_per_sec"` // training throughput, data loading included
	Seconds   float64 `json:"seconds"`     // wall time of the epoch, evaluation included
}

// Trainer trains one model. It keeps a compiled graph per batch size (the last partial batch of an epoch gets its
// own), all sharing the model's parameters.
type Trainer struct {
	Model  *zoo.Model
	Config Config
	opt    *SGD
	passes map[passKey]*pass
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
	if cfg.EvalBatchSize == 0 {
		cfg.EvalBatchSize = cfg.BatchSize
	}
	opt, _ := NewSGD(cfg.LR, cfg.Momentum, cfg.WeightDecay)
	return &Trainer{Model: m, Config: cfg, opt: opt, passes: map[passKey]*pass{}}, nil
}

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
	p, err := newPass(t.Model, n, training, false)
	if err != nil {
		return nil, err
	}
	t.passes[k] = p
	return p, nil
}

// Fit trains for Config.Epochs epochs, evaluating on test after each, and returns the history. On cancellation it
// returns the epochs completed so far and ctx's error.
func (t *Trainer) Fit(ctx context.Context, train, test *datasets.Split) ([]EpochStats, error) {
	loader, err := datasets.NewLoader(train, t.Config.BatchSize, true, t.Config.Seed)
	if err != nil {
		return nil, err
	}
	var history []EpochStats
	for e := 1; e <= t.Config.Epochs; e++ {
		st, err := t.epoch(ctx, loader, e)
		if err != nil {
			return history, err
		}
		if test != nil {
			ev, err := t.Evaluate(ctx, test, nil)
			if err != nil {
				return history, err
			}
			st.TestLoss, st.TestAcc = ev.Loss, ev.Accuracy
		}
		st.Seconds = time.Since(st.start).Seconds()
		history = append(history, st.EpochStats)
	}
	return history, nil
}

type epochRun struct {
	EpochStats
	start time.Time
}

func (t *Trainer) epoch(ctx context.Context, loader *datasets.Loader, e int) (epochRun, error) {
	run := epochRun{EpochStats: EpochStats{Epoch: e}, start: time.Now()}
	order := loader.Epoch(e - 1)
	nb := loader.NumBatches()
	label := fmt.Sprintf("epoch %d/%d", e, t.Config.Epochs)
	if t.Config.Label != "" {
		label = t.Config.Label + " " + label
	}
	bar := newBar(t.Config.Progress, nb, label)
	var batch datasets.Batch
	var lossSum float64
	var correct, seen int
	for b := 0; b < nb; b++ {
		if err := ctx.Err(); err != nil {
			return run, fmt.Errorf("training %s interrupted in epoch %d at batch %d/%d: %w", t.Model.Config, e, b, nb, err)
		}
		loader.Batch(order, b, &batch)
		l, c, err := t.Step(&batch)
		if err != nil {
			return run, fmt.Errorf("epoch %d batch %d: %w", e, b, err)
		}
		lossSum += l * float64(batch.N)
		correct += c
		seen += batch.N
		ips := float64(seen) / time.Since(run.start).Seconds()
		barStep(bar, fmt.Sprintf("%s loss %.4f acc %.2f%% %.0f img/s", label, lossSum/float64(seen),
			100*float64(correct)/float64(seen), ips))
	}
	barFinish(bar)
	run.TrainLoss = lossSum / float64(seen)
	run.TrainAcc = float64(correct) / float64(seen)
	run.ImgPerSec = float64(seen) / time.Since(run.start).Seconds()
	return run, nil
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
