package train

import (
	"fmt"
	"math"
)

// validate checks a checkpoint's state.json against the run it belongs to and against the checkpoint's directory
// name, and returns one error naming the first bad key. Every number of it steers the resumed run: a negative
// step or epoch made the schedule produce a NaN learning rate (reported as a divergence), a step beyond the
// epoch's end silently skipped the rest of the epoch, and negative or inconsistent counters corrupted the logged
// loss and accuracy. A state written by this package always passes.
func (cs *CheckpointState) validate(dirName string) error {
	s := &cs.RunState
	tc := cs.Run.Train.withDefaults()
	pos := s.Position
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", stateFile, key, fmt.Sprintf(format, args...))
	}
	switch {
	case cs.Name != dirName:
		return bad("name", "%q, but the checkpoint directory is %q", cs.Name, dirName)
	case s.StepsPerEpoch < 1:
		return bad("steps_per_epoch", "must be positive, got %d", s.StepsPerEpoch)
	case pos.Epoch < 0 || pos.Epoch > tc.Epochs:
		return bad("position.epoch", "must be in [0, %d] (the run's epochs), got %d", tc.Epochs, pos.Epoch)
	// Step = StepsPerEpoch is an epoch trained but not yet evaluated (interrupted in between).
	case pos.Step < 0 || pos.Step > s.StepsPerEpoch:
		return bad("position.step", "must be in [0, %d] (steps per epoch), got %d", s.StepsPerEpoch, pos.Step)
	case pos.Epoch == tc.Epochs && pos.Step != 0:
		return bad("position.step", "must be 0 once all %d epochs are done, got %d", tc.Epochs, pos.Step)
	case s.GlobalStep != pos.Epoch*s.StepsPerEpoch+pos.Step:
		return bad("global_step", "%d, but epoch %d step %d of %d-step epochs is global step %d", s.GlobalStep,
			pos.Epoch, pos.Step, s.StepsPerEpoch, pos.Epoch*s.StepsPerEpoch+pos.Step)
	case s.GlobalStep < 1:
		return bad("global_step", "must be positive in a checkpoint, got %d", s.GlobalStep)
	case nameFor(*s) != cs.Name:
		return bad("name", "%q does not match its position (%q)", cs.Name, nameFor(*s))
	case s.RNG.Seed != tc.Seed || s.RNG.Epoch != pos.Epoch || s.RNG.Step != pos.Step:
		return bad("rng", "%+v does not match the run's seed %d at epoch %d step %d", s.RNG, tc.Seed, pos.Epoch, pos.Step)
	case len(s.History) != pos.Epoch:
		return bad("history", "has %d epochs, the position says %d are done", len(s.History), pos.Epoch)
	}
	seen := pos.Step * tc.BatchSize // every batch but an epoch's last is full
	if s.Data != nil {
		seen = min(seen, s.Data.TrainSamples)
	}
	if err := s.EpochProgress.validate(seen); err != nil {
		return bad("epoch_progress", "%v", err)
	}
	for i, h := range s.History {
		if h.Epoch != i+1 || h.Step != (i+1)*s.StepsPerEpoch {
			return bad("history", "row %d is epoch %d at step %d, want epoch %d at step %d", i, h.Epoch, h.Step, i+1,
				(i+1)*s.StepsPerEpoch)
		}
	}
	if b := s.Best; b != nil && (b.Epoch < 1 || b.Epoch > pos.Epoch) {
		return bad("best.epoch", "must be in [1, %d] (the epochs done), got %d", pos.Epoch, b.Epoch)
	}
	if d := s.Data; d != nil {
		if d.TrainSamples < 1 || d.EvalSamples < 0 {
			return bad("data", "sample counts %d and %d must be positive", d.TrainSamples, d.EvalSamples)
		}
		if want := (d.TrainSamples + tc.BatchSize - 1) / tc.BatchSize; want != s.StepsPerEpoch {
			return bad("steps_per_epoch", "%d, but %d samples in batches of %d take %d steps", s.StepsPerEpoch,
				d.TrainSamples, tc.BatchSize, want)
		}
	}
	return nil
}

// validate checks the partial sums of an epoch that has taken the steps that saw seen samples.
func (p EpochProgress) validate(seen int) error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) && x >= 0 }
	switch {
	case p.Seen != seen:
		return fmt.Errorf("seen is %d, the steps taken saw %d samples", p.Seen, seen)
	case p.Correct < 0 || p.Correct > p.Seen:
		return fmt.Errorf("correct must be in [0, %d] (seen), got %d", p.Seen, p.Correct)
	case !finite(p.LossSum) || !finite(p.TrainSeconds):
		return fmt.Errorf("loss_sum %v and train_seconds %v must be finite and not negative", p.LossSum, p.TrainSeconds)
	}
	return nil
}
