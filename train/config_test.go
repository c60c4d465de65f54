package train

import (
	"errors"
	"math"
	"testing"
)

// TestConfigRejectsNonFinite: every float of the recipe must be finite. +Inf passed the "must be positive" checks
// (and NaN those written as x < 0), and the run failed only when run.json could not hold the value.
func TestConfigRejectsNonFinite(t *testing.T) {
	for field, set := range map[string]func(*Config, float64){
		"lr":            func(c *Config, v float64) { c.LR = v },
		"momentum":      func(c *Config, v float64) { c.Momentum = v },
		"weight_decay":  func(c *Config, v float64) { c.WeightDecay = v },
		"beta1":         func(c *Config, v float64) { c.Beta1 = v },
		"eps":           func(c *Config, v float64) { c.Eps = v },
		"gamma":         func(c *Config, v float64) { c.Schedule.Gamma = v },
		"warmup_epochs": func(c *Config, v float64) { c.Schedule.WarmupEpochs = v },
	} {
		for _, v := range []float64{math.Inf(1), math.Inf(-1), math.NaN()} {
			c := DefaultConfig()
			set(&c, v)
			var ce *ConfigError
			if err := c.Validate(); !errors.As(err, &ce) || ce.Field != field {
				t.Errorf("%s = %v: %v, want a ConfigError for %s", field, v, err, field)
			}
		}
	}
}
