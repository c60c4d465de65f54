package zoo

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
)

// resnetSpec is a ResNet's stem width and per-stage block counts and widths.
type resnetSpec struct {
	stem       int
	blocks     []int
	widths     []int
	projection bool // 1×1 conv + BN shortcuts (ResNet-18/34); otherwise option A (He et al. 2016, CIFAR)
}

// The CIFAR ResNets of He et al. (2016), depth 6n+2 with n blocks per stage at 16/32/64 channels, and ResNet-18/34
// as in the common pytorch-cifar code (3×3 stem of 64 at stride 1, no max-pool).
var resnetSpecs = map[string]resnetSpec{
	"resnet20":  {stem: 16, blocks: []int{3, 3, 3}, widths: []int{16, 32, 64}},
	"resnet32":  {stem: 16, blocks: []int{5, 5, 5}, widths: []int{16, 32, 64}},
	"resnet44":  {stem: 16, blocks: []int{7, 7, 7}, widths: []int{16, 32, 64}},
	"resnet56":  {stem: 16, blocks: []int{9, 9, 9}, widths: []int{16, 32, 64}},
	"resnet110": {stem: 16, blocks: []int{18, 18, 18}, widths: []int{16, 32, 64}},
	"resnet18":  {stem: 64, blocks: []int{2, 2, 2, 2}, widths: []int{64, 128, 256, 512}, projection: true},
	"resnet34":  {stem: 64, blocks: []int{3, 4, 6, 3}, widths: []int{64, 128, 256, 512}, projection: true},
}

func init() {
	for name, spec := range resnetSpecs {
		Register(name, resnetBuilder(spec))
	}
}

// resnetBuilder builds: unit "stem" (3×3), basic blocks "blocks.b" (b counts over all stages; stride 2 at the start
// of every stage but the first), global average pool, Linear "classifier".
func resnetBuilder(spec resnetSpec) BuildFunc {
	return func(b *layers.Builder, x *G.Node, cfg Config) (*G.Node, error) {
		h, err := b.ConvUnit(x, unit(cfg, "stem", spec.stem, 3, 1, false))
		if err != nil {
			return nil, err
		}
		k := 0
		for stage, n := range spec.blocks {
			for i := 0; i < n; i++ {
				stride := 1
				if stage > 0 && i == 0 {
					stride = 2
				}
				if h, err = basicBlock(b, h, fmt.Sprintf("blocks.%d", k), spec.widths[stage], stride, spec.projection, cfg); err != nil {
					return nil, err
				}
				k++
			}
		}
		if h, err = b.GlobalAvgPool(h); err != nil {
			return nil, err
		}
		return b.Dense(h, "classifier", cfg.Classes)
	}
}

// basicBlock is He et al.'s two-conv residual block with bnzoo's placement rule:
//
//	conventional: y = act(BN2(conv2(act(BN1(conv1(x))))) + shortcut(x))
//	swapped:      y = BN2(act(conv2(BN1(act(conv1(x)))))) + shortcut(x)
//	none:         y = act(conv2(act(conv1(x) + b1)) + b2 + shortcut(x))
//
// Swapped order keeps "every conv is followed by act then BN" and puts nothing after the add (an activation after
// the add would follow a BN that already normalised the branch and would bound the residual stream).
func basicBlock(b *layers.Builder, x *G.Node, name string, out, stride int, projection bool, cfg Config) (*G.Node, error) {
	in := x.Shape()[1]
	h, err := b.ConvUnit(x, unit(cfg, name+".conv1", out, 3, stride, false))
	if err != nil {
		return nil, err
	}
	shortcut := x
	if stride != 1 || in != out {
		if projection {
			shortcut, err = b.ConvBN(x, name+".shortcut", out, 1, stride, 0)
		} else {
			shortcut, err = optionAShortcut(x, out, stride)
		}
		if err != nil {
			return nil, err
		}
	}
	return b.ResidualConvUnit(h, shortcut, unit(cfg, name+".conv2", out, 3, 1, false))
}

// optionAShortcut is He et al.'s parameter-free shortcut: take every stride-th pixel and zero-pad the channels
// equally on both sides, as the common CIFAR code does (F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p)) with
// p = (out − in)/2).
func optionAShortcut(x *G.Node, out, stride int) (*G.Node, error) {
	s := x.Shape()
	if (out-s[1])%2 != 0 || out < s[1] {
		return nil, fmt.Errorf("option-A shortcut from %d to %d channels needs an even increase", s[1], out)
	}
	return layers.SubsamplePad(x, stride, (out-s[1])/2)
}
