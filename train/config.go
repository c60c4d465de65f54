package train

import (
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/bnzoo/bnzoo/internal/provenance"
)

// Config is the training recipe. Its JSON form (snake_case keys, the same names the errors use) is part of a run
// directory's run.json and of every checkpoint.
type Config struct {
	Epochs        int `json:"epochs"`
	BatchSize     int `json:"batch_size"`                // training batch size
	EvalBatchSize int `json:"eval_batch_size,omitempty"` // evaluation batch size; 0 means BatchSize
	// Optimizer is sgd (also ""), adam or adamw.
	Optimizer string `json:"optimizer"`
	// LR is the base learning rate; Schedule scales it step by step.
	LR float64 `json:"lr"`
	// Momentum and Nesterov are SGD's (Adam ignores Momentum).
	Momentum float64 `json:"momentum"`
	Nesterov bool    `json:"nesterov,omitempty"`
	// WeightDecay is L2 decay added to the gradient for SGD and Adam, decoupled decay for AdamW.
	WeightDecay float64 `json:"weight_decay"`
	// NoDecayBNBias exempts BatchNorm γ, β and all biases from weight decay.
	NoDecayBNBias bool `json:"no_decay_bn_bias,omitempty"`
	// Beta1, Beta2 and Eps are Adam's and AdamW's; 0 means PyTorch's default (0.9, 0.999, 1e-8).
	Beta1 float64 `json:"beta1,omitempty"`
	Beta2 float64 `json:"beta2,omitempty"`
	Eps   float64 `json:"eps,omitempty"`
	// Schedule scales LR over the run; the zero value is constant.
	Schedule Schedule `json:"schedule"`
	// Seed drives the data order and the augmentation (the model's initial weights come from its own config's seed).
	Seed int64 `json:"seed"`
	// Augment applies the training augmentation of 32×32 and 64×64 sets (random crop with 4-pixel zero padding and
	// horizontal flip, a pure function of (seed, epoch, sample)); evaluation is never augmented.
	Augment bool `json:"augment,omitempty"`
	// CheckpointEvery is, in a run directory, the number of steps between checkpoints; 0 checkpoints at the end
	// of each epoch only (every epoch ends with one either way, as does an interruption).
	CheckpointEvery int `json:"checkpoint_every,omitempty"`
	// Keep is, in a run directory, how many of the latest checkpoints are kept besides the best one; 0 keeps all.
	Keep int `json:"keep,omitempty"`
	// Progress receives the progress bars (usually os.Stderr, see ProgressWriter); nil trains silently.
	Progress io.Writer `json:"-"`
	// Logger receives messages (epoch summaries, checkpoints, resumes); nil discards them.
	Logger *slog.Logger `json:"-"`
	// Track, when set, analyses the model on a subset of the evaluation split after every epoch (see Track).
	Track *Track `json:"track,omitempty"`
	// FuseEvaluation runs the untapped evaluation passes (Evaluate, Predict, the per-epoch test) on fused graphs:
	// each unit one oneDNN convolution with BatchNorm folded in and the activation as a post-op, as PyTorch's
	// frozen models run (zoo.BuildOptions.Fuse; float32 with -tags dnnl only). Faster; its losses and accuracies
	// differ from the unfused graph's by float32 rounding. Training and the analysis never fuse.
	FuseEvaluation bool `json:"fuse_evaluation,omitempty"`
	// Label prefixes the bar's description, e.g. "swapped".
	Label string `json:"label,omitempty"`
	// Provenance, when the caller sets it (a command sets provenance.Collect()), is recorded with the recipe in
	// run.json and every checkpoint: bnzoo's version and revision, the Go version, the kernels and the machine
	// that started the run. Training never reads it. A resumed run keeps the provenance of the process that
	// started it.
	Provenance *provenance.Info `json:"provenance,omitempty"`
}

// DefaultConfig is a recipe that trains the study's small models well in one epoch: SGD lr 0.01, momentum 0.9,
// weight decay 5e-4, batch 128, constant learning rate; in a run directory it keeps the last 3 checkpoints.
func DefaultConfig() Config {
	return Config{Epochs: 1, BatchSize: 128, Optimizer: OptimizerSGD, LR: 0.01, Momentum: 0.9, WeightDecay: 5e-4,
		Seed: 1, Keep: 3}
}

// ConfigError is a bad configuration value. Field is the value's JSON key in Config (or in Schedule), which is
// also the name of examples/train's flag with '-' for '_'.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return e.Field + ": " + e.Reason }

// withDefaults fills in the values that 0 or "" stand for.
func (c Config) withDefaults() Config {
	if c.EvalBatchSize == 0 {
		c.EvalBatchSize = c.BatchSize
	}
	if c.Optimizer == "" {
		c.Optimizer = OptimizerSGD
	}
	if c.Optimizer == OptimizerAdam || c.Optimizer == OptimizerAdamW {
		if c.Beta1 == 0 {
			c.Beta1 = 0.9
		}
		if c.Beta2 == 0 {
			c.Beta2 = 0.999
		}
		if c.Eps == 0 {
			c.Eps = 1e-8
		}
	}
	c.Schedule = c.Schedule.withDefaults()
	if c.Track != nil {
		k := c.Track.withDefaults()
		c.Track = &k
	}
	return c
}

// Validate returns one error (a *ConfigError) naming the first bad field.
func (c Config) Validate() error {
	// NaN passes every "must be positive" written as !(x > 0) but not one written as x < 0 or x <= 0, and +Inf
	// passes both; either would fail much later (run.json cannot hold them) or train on garbage.
	for _, f := range []struct {
		name string
		v    float64
	}{{"lr", c.LR}, {"momentum", c.Momentum}, {"weight_decay", c.WeightDecay}, {"beta1", c.Beta1}, {"beta2", c.Beta2},
		{"eps", c.Eps}, {"gamma", c.Schedule.Gamma}, {"warmup_epochs", c.Schedule.WarmupEpochs}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return &ConfigError{Field: f.name, Reason: fmt.Sprintf("must be a finite number, got %v", f.v)}
		}
	}
	switch {
	case c.Epochs < 1:
		return &ConfigError{Field: "epochs", Reason: fmt.Sprintf("must be positive, got %d", c.Epochs)}
	case c.BatchSize < 1:
		return &ConfigError{Field: "batch_size", Reason: fmt.Sprintf("must be positive, got %d", c.BatchSize)}
	case c.EvalBatchSize < 0:
		return &ConfigError{Field: "eval_batch_size", Reason: fmt.Sprintf("must not be negative, got %d", c.EvalBatchSize)}
	case c.CheckpointEvery < 0:
		return &ConfigError{Field: "checkpoint_every", Reason: fmt.Sprintf("must not be negative, got %d", c.CheckpointEvery)}
	case c.Keep < 0:
		return &ConfigError{Field: "keep", Reason: fmt.Sprintf("must not be negative, got %d", c.Keep)}
	}
	if _, err := NewOptimizer(c); err != nil {
		return err
	}
	if c.Track != nil {
		if err := c.Track.Validate(); err != nil {
			return err
		}
	}
	return c.Schedule.Validate(c.Epochs)
}
