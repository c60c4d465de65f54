package zoo

import (
	"fmt"
	"math"
)

// Limits bound what a Config may ask for. A config comes from flags and from files (a model file's metadata, a
// checkpoint's state.json), and a few changed digits there would otherwise make New allocate terabytes: every
// field is checked against these limits, and the model's memory is estimated from its architecture, before any
// parameter is allocated.
type Limits struct {
	MaxClasses       int     // Config.Classes
	MaxInputChannels int     // Config.InputShape[0]
	MaxInputSide     int     // Config.InputShape[1] and [2]
	MaxWidth         float64 // Config.Width
	// MaxParamBytes bounds the parameters and BatchNorm statistics, in the model's dtype.
	MaxParamBytes int64
	// MaxActivationBytes bounds the forward values of one sample (every graph node's output at batch size 1); a
	// training step at batch size B needs roughly 3·B times as much.
	MaxActivationBytes int64
}

// DefaultLimits are the limits New, Load and Describe apply. They admit every model of the zoo at widths up to 16
// on images up to 4096×4096 and ImageNet-21k's class count, and refuse a single model of more than 4 GiB of
// parameters or 4 GiB of activations per sample. A program that needs more raises them once at start-up, before
// building or loading a model (they are read without synchronisation):
//
//	zoo.DefaultLimits.MaxParamBytes = 16 << 30
var DefaultLimits = Limits{
	MaxClasses:         100_000,
	MaxInputChannels:   64,
	MaxInputSide:       4096,
	MaxWidth:           16,
	MaxParamBytes:      4 << 30,
	MaxActivationBytes: 4 << 30,
}

// checkFields checks the config's sizes against l; the error names the field and the limit.
func (c Config) checkFields(l Limits) error {
	if c.Classes > l.MaxClasses {
		return fmt.Errorf("model %s: classes %d exceeds the limit of %d (zoo.DefaultLimits.MaxClasses)", c.Arch, c.Classes, l.MaxClasses)
	}
	if c.InputShape[0] > l.MaxInputChannels {
		return fmt.Errorf("model %s: input_shape %v: %d channels exceed the limit of %d (zoo.DefaultLimits.MaxInputChannels)",
			c.Arch, c.InputShape, c.InputShape[0], l.MaxInputChannels)
	}
	for i := 1; i < 3; i++ {
		if c.InputShape[i] > l.MaxInputSide {
			return fmt.Errorf("model %s: input_shape %v: side %d exceeds the limit of %d (zoo.DefaultLimits.MaxInputSide)",
				c.Arch, c.InputShape, c.InputShape[i], l.MaxInputSide)
		}
	}
	if math.IsNaN(c.Width) || math.IsInf(c.Width, 0) || c.Width > l.MaxWidth {
		return fmt.Errorf("model %s: width %v exceeds the limit of %v (zoo.DefaultLimits.MaxWidth)", c.Arch, c.Width, l.MaxWidth)
	}
	return nil
}

// Check refuses a footprint over l's memory limits with an error naming the config's size fields, the estimate and
// the limit.
func (f *Footprint) Check(l Limits) error {
	c := f.Config
	fields := fmt.Sprintf("model %s (classes %d, input_shape %v, width %v)", c.Arch, c.Classes, c.InputShape, c.width())
	if f.ParamBytes > l.MaxParamBytes {
		return fmt.Errorf("%s: its parameters would take %s (estimated from the architecture), more than the limit of %s (zoo.DefaultLimits.MaxParamBytes)",
			fields, byteSize(f.ParamBytes), byteSize(l.MaxParamBytes))
	}
	if f.ActivationBytes > l.MaxActivationBytes {
		return fmt.Errorf("%s: one sample's activations would take %s (estimated from the architecture), more than the limit of %s (zoo.DefaultLimits.MaxActivationBytes)",
			fields, byteSize(f.ActivationBytes), byteSize(l.MaxActivationBytes))
	}
	return nil
}

// byteSize formats n bytes with a binary unit, e.g. "8.0 TiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}
