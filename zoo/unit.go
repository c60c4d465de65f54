package zoo

import "github.com/bnzoo/bnzoo/layers"

// unit describes a "same"-padded k×k unit of the model's activation and placement.
func unit(cfg Config, name string, out, k, stride int, depthwise bool) layers.ConvUnit {
	return layers.ConvUnit{Name: name, Out: out, Kernel: k, Stride: stride, Pad: k / 2, Depthwise: depthwise,
		Activation: cfg.Activation, Placement: cfg.Placement}
}
