package train

import (
	"fmt"
	"math"
	"strings"
)

// Schedule kinds accepted by Schedule.Kind.
const (
	ScheduleConstant  = "constant"
	ScheduleMultiStep = "multistep"
	ScheduleCosine    = "cosine"
)

// ScheduleNames lists the schedule kinds.
func ScheduleNames() []string { return []string{ScheduleConstant, ScheduleMultiStep, ScheduleCosine} }

// Position is where a run stands: Epoch epochs are complete (so Epoch is also the 0-based index of the epoch in
// progress) and Step steps of the next one have been taken. A position with Step equal to the epoch's number of
// batches has trained the whole epoch but not yet evaluated it.
type Position struct {
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
}

// Schedule is a learning-rate schedule, evaluated per step as a pure function of the position (see LR), so a
// resumed run continues on exactly the same learning rates. With E epochs of S steps, the step at position
// (e, s) is global step g = e·S + s of T = E·S, the warm-up lasts W = round(WarmupEpochs·S) steps, and
//
//	constant:  η(g) = η₀
//	multistep: η(g) = η₀ · γ^|{m ∈ Milestones : m ≤ e}|   (per epoch, as MultiStepLR stepped once per epoch)
//	cosine:    η(g) = η₀ · (1 + cos(π·(g−W)/(T−W))) / 2   (per step, CosineAnnealingLR with T_max = T−W, η_min 0)
//
// each multiplied during the warm-up (g < W) by the linear factor (g+1)/W, which reaches 1 on the last warm-up
// step; cosine holds η₀ during the warm-up and anneals over the remaining steps.
type Schedule struct {
	// Kind is constant (also ""), multistep or cosine.
	Kind string `json:"kind,omitempty"`
	// Milestones are the epochs (counted from 0, i.e. after that many complete epochs) at which multistep
	// multiplies the learning rate by Gamma, strictly increasing: {100, 150} is the CIFAR ResNet recipe.
	Milestones []int `json:"milestones,omitempty"`
	// Gamma is multistep's factor; 0 means 0.1.
	Gamma float64 `json:"gamma,omitempty"`
	// WarmupEpochs is the length of the linear warm-up, in epochs (fractions allowed; 0 = none).
	WarmupEpochs float64 `json:"warmup_epochs,omitempty"`
}

func (s Schedule) withDefaults() Schedule {
	if s.Kind == "" {
		s.Kind = ScheduleConstant
	}
	if s.Kind == ScheduleMultiStep && s.Gamma == 0 {
		s.Gamma = 0.1
	}
	return s
}

// Validate checks the schedule for a run of the given number of epochs; errors name the field.
func (s Schedule) Validate(epochs int) error {
	s = s.withDefaults()
	switch s.Kind {
	case ScheduleConstant, ScheduleMultiStep, ScheduleCosine:
	default:
		return &ConfigError{Field: "schedule", Reason: fmt.Sprintf("unknown schedule %q (valid: %s)", s.Kind,
			strings.Join(ScheduleNames(), ", "))}
	}
	if s.Kind != ScheduleMultiStep && (len(s.Milestones) > 0 || s.Gamma != 0) {
		return &ConfigError{Field: "milestones", Reason: fmt.Sprintf("milestones and gamma apply to the multistep schedule, not %s", s.Kind)}
	}
	if s.Kind == ScheduleMultiStep {
		if len(s.Milestones) == 0 {
			return &ConfigError{Field: "milestones", Reason: "the multistep schedule needs at least one milestone"}
		}
		for i, m := range s.Milestones {
			if m < 1 || (i > 0 && m <= s.Milestones[i-1]) {
				return &ConfigError{Field: "milestones", Reason: fmt.Sprintf("must be positive and strictly increasing, got %v", s.Milestones)}
			}
		}
		if !(s.Gamma > 0) {
			return &ConfigError{Field: "gamma", Reason: fmt.Sprintf("must be positive, got %v", s.Gamma)}
		}
	}
	switch {
	case !(s.WarmupEpochs >= 0) || math.IsInf(s.WarmupEpochs, 0):
		return &ConfigError{Field: "warmup_epochs", Reason: fmt.Sprintf("must not be negative, got %v", s.WarmupEpochs)}
	case s.WarmupEpochs > float64(epochs):
		return &ConfigError{Field: "warmup_epochs", Reason: fmt.Sprintf("%v is longer than the run (%d epochs)", s.WarmupEpochs, epochs)}
	case s.Kind == ScheduleCosine && s.WarmupEpochs >= float64(epochs):
		return &ConfigError{Field: "warmup_epochs", Reason: fmt.Sprintf("%v leaves no epoch for the cosine decay of a %d-epoch run", s.WarmupEpochs, epochs)}
	}
	return nil
}

// WarmupSteps is the number of warm-up steps W for epochs of stepsPerEpoch steps (at least 1 when there is a
// warm-up at all).
func (s Schedule) WarmupSteps(stepsPerEpoch int) int {
	if s.WarmupEpochs <= 0 {
		return 0
	}
	return max(1, int(math.Round(s.WarmupEpochs*float64(stepsPerEpoch))))
}

// LR is the learning rate of the step taken at position at, for base rate base and a run of epochs epochs of
// stepsPerEpoch steps (see Schedule for the formulas).
func (s Schedule) LR(base float64, epochs, stepsPerEpoch int, at Position) float64 {
	s = s.withDefaults()
	g := at.Epoch*stepsPerEpoch + at.Step
	w := s.WarmupSteps(stepsPerEpoch)
	lr := base
	switch s.Kind {
	case ScheduleMultiStep:
		for _, m := range s.Milestones {
			if m <= at.Epoch {
				lr *= s.Gamma
			}
		}
	case ScheduleCosine:
		if total := epochs * stepsPerEpoch; g >= w && total > w {
			lr = base * (1 + math.Cos(math.Pi*float64(g-w)/float64(total-w))) / 2
		}
	}
	if g < w {
		lr *= float64(g+1) / float64(w)
	}
	return lr
}
