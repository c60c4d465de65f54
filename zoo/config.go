package zoo

import (
	"fmt"
	"math"

	"github.com/bnzoo/bnzoo/layers"
)

// Config fully describes a model: a saved file's metadata holds it, so a file alone rebuilds its model.
type Config struct {
	Arch       string            `json:"arch"`
	Classes    int               `json:"classes"`
	InputShape [3]int            `json:"input_shape"` // channels, height, width
	Activation layers.Activation `json:"activation"`
	Placement  layers.Placement  `json:"placement"`
	// PlacementRules override Placement unit by unit, in order (see PlacementRule): a mixed model, such as one
	// with only its last units swapped. Empty means every unit is in Placement.
	PlacementRules []PlacementRule `json:"placement_rules,omitempty"`
	// Width is the channel multiplier of the MobileNets (0 means 1); other architectures reject any other value.
	Width float64 `json:"width,omitempty"`
	Seed  int64   `json:"seed"`
}

// width returns the effective width multiplier.
func (c Config) width() float64 {
	if c.Width == 0 {
		return 1
	}
	return c.Width
}

// Validate checks the config, sizes included (against DefaultLimits), and returns one error naming the first bad
// field. It does not estimate the model's memory: New and Load do (see Estimate).
func (c Config) Validate() error {
	if _, ok := registry[c.Arch]; !ok {
		return fmt.Errorf("unknown model %q (valid: %v)", c.Arch, Names())
	}
	if c.Classes < 2 {
		return fmt.Errorf("model %s: classes must be at least 2, got %d", c.Arch, c.Classes)
	}
	for i, d := range c.InputShape {
		if d < 1 {
			return fmt.Errorf("model %s: input_shape[%d] must be positive, got %v", c.Arch, i, c.InputShape)
		}
	}
	if math.IsNaN(c.Width) || math.IsInf(c.Width, 0) {
		return fmt.Errorf("model %s: width must be a finite number, got %v", c.Arch, c.Width)
	}
	if c.Width < 0 || (c.Width != 0 && c.Width != 1 && !widthArchs[c.Arch]) {
		return fmt.Errorf("model %s: width %v is not supported (only %v take a width multiplier > 0)", c.Arch, c.Width, sortedKeys(widthArchs))
	}
	if c.Placement < layers.Conventional || c.Placement > layers.NoBN {
		return fmt.Errorf("model %s: invalid placement %v", c.Arch, c.Placement)
	}
	for _, r := range c.PlacementRules {
		if err := r.checkSelector(); err != nil {
			return fmt.Errorf("model %s: %w", c.Arch, err)
		}
	}
	return c.checkFields(DefaultLimits)
}

// String is a short human-readable label, e.g. "vgg_mini tanh swapped" or "vgg_mini tanh
// conventional+last:1=swapped".
func (c Config) String() string {
	return fmt.Sprintf("%s %s %s", c.Arch, c.Activation, c.PlacementSpec())
}
