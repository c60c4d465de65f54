package train

import (
	"errors"
	"math"
	"testing"
)

// TestScheduleFormulas evaluates each schedule at chosen positions against its formula worked out by hand
// (base rate 0.1).
func TestScheduleFormulas(t *testing.T) {
	multistep := Schedule{Kind: ScheduleMultiStep, Milestones: []int{100, 150}}
	cosine := Schedule{Kind: ScheduleCosine}
	warmCosine := Schedule{Kind: ScheduleCosine, WarmupEpochs: 1}
	cases := []struct {
		name          string
		s             Schedule
		epochs, steps int // run length and steps per epoch
		epoch, step   int
		want          float64
	}{
		{"constant start", Schedule{}, 10, 100, 0, 0, 0.1},
		{"constant late", Schedule{Kind: ScheduleConstant}, 10, 100, 9, 99, 0.1},
		// ×0.1 once 100 epochs are complete, ×0.01 after 150 (MultiStepLR(milestones=[100, 150]) per epoch).
		{"multistep before first", multistep, 200, 10, 99, 9, 0.1},
		{"multistep at first", multistep, 200, 10, 100, 0, 0.01},
		{"multistep between", multistep, 200, 10, 149, 9, 0.01},
		{"multistep at second", multistep, 200, 10, 150, 0, 0.001},
		{"multistep end", multistep, 200, 10, 199, 9, 0.001},
		{"multistep gamma 0.5", Schedule{Kind: ScheduleMultiStep, Milestones: []int{2}, Gamma: 0.5}, 4, 10, 3, 0, 0.05},
		// Cosine over T = 1000 steps: 0.1·(1 + cos(π·g/1000))/2.
		{"cosine start", cosine, 10, 100, 0, 0, 0.1},
		{"cosine quarter", cosine, 10, 100, 2, 50, 0.1 * (1 + math.Sqrt2/2) / 2},
		{"cosine half", cosine, 10, 100, 5, 0, 0.05},
		{"cosine last step", cosine, 10, 100, 9, 99, 0.1 * (1 + math.Cos(math.Pi*0.999)) / 2},
		// One epoch (100 steps) of linear warm-up: 0.1·(g+1)/100, then cosine over the 900 remaining steps.
		{"warm-up first step", warmCosine, 10, 100, 0, 0, 0.001},
		{"warm-up middle", warmCosine, 10, 100, 0, 49, 0.05},
		{"warm-up last step", warmCosine, 10, 100, 0, 99, 0.1},
		{"cosine after warm-up", warmCosine, 10, 100, 1, 0, 0.1},
		{"cosine half after warm-up", warmCosine, 10, 100, 5, 50, 0.05},
		// Warm-up of half an epoch of 10 steps (5 steps) on multistep: 0.1·(g+1)/5, then the milestones.
		{"multistep warm-up", Schedule{Kind: ScheduleMultiStep, Milestones: []int{1}, WarmupEpochs: 0.5}, 2, 10, 0, 1, 0.04},
		{"multistep after warm-up", Schedule{Kind: ScheduleMultiStep, Milestones: []int{1}, WarmupEpochs: 0.5}, 2, 10, 0, 5, 0.1},
		{"constant warm-up 2 epochs", Schedule{WarmupEpochs: 2}, 3, 3, 0, 2, 0.05},
	}
	for _, c := range cases {
		if err := c.s.Validate(c.epochs); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := c.s.LR(0.1, c.epochs, c.steps, Position{Epoch: c.epoch, Step: c.step})
		if math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s: lr(epoch %d, step %d) = %.17g, want %.17g", c.name, c.epoch, c.step, got, c.want)
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, c := range []struct {
		field string
		s     Schedule
	}{
		{"schedule", Schedule{Kind: "step"}},
		{"milestones", Schedule{Kind: ScheduleMultiStep}},
		{"milestones", Schedule{Kind: ScheduleMultiStep, Milestones: []int{5, 3}}},
		{"milestones", Schedule{Kind: ScheduleMultiStep, Milestones: []int{0}}},
		{"milestones", Schedule{Kind: ScheduleCosine, Milestones: []int{3}}},
		{"gamma", Schedule{Kind: ScheduleMultiStep, Milestones: []int{3}, Gamma: -1}},
		{"warmup_epochs", Schedule{WarmupEpochs: -1}},
		{"warmup_epochs", Schedule{WarmupEpochs: 11}},
		{"warmup_epochs", Schedule{Kind: ScheduleCosine, WarmupEpochs: 10}},
	} {
		var ce *ConfigError
		if err := c.s.Validate(10); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: err = %v, want a ConfigError on %s", c.s, err, c.field)
		}
	}
}
