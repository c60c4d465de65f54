package zoo

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
)

// mobileNetV1Blocks are the (out channels, stride) of MobileNetV1's 13 depthwise-separable blocks, with the first
// stride-2 block of the ImageNet net made stride 1 for 32×32 inputs as in the common CIFAR code.
var mobileNetV1Blocks = [][2]int{
	{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2},
	{512, 1}, {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
}

// mobileNetV2Table is MobileNetV2's inverted-residual table (expansion t, channels c, repeats n, first stride s),
// CIFAR variant: the second row's stride is 1 instead of 2.
var mobileNetV2Table = [][4]int{
	{1, 16, 1, 1}, {6, 24, 2, 1}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
}

func init() {
	Register("mobilenet_v1", mobileNetV1)
	Register("mobilenet_v2", mobileNetV2)
	widthArchs["mobilenet_v1"] = true
	widthArchs["mobilenet_v2"] = true
}

// mobileNetV1 builds: unit "stem" (3×3 to 32·width, stride 1), blocks "blocks.b" of a depthwise 3×3 unit
// "blocks.b.dw" and a pointwise 1×1 unit "blocks.b.pw", global average pool, Linear "classifier". Channels are
// int(c·width), as in the MobileNetV1 paper's width multiplier.
func mobileNetV1(b *layers.Builder, x *G.Node, cfg Config) (*G.Node, error) {
	w := cfg.width()
	ch := func(c int) int { return max(1, int(float64(c)*w)) }
	h, err := b.ConvUnit(x, unit(cfg, "stem", ch(32), 3, 1, false))
	if err != nil {
		return nil, err
	}
	for i, blk := range mobileNetV1Blocks {
		name := fmt.Sprintf("blocks.%d", i)
		if h, err = b.ConvUnit(h, unit(cfg, name+".dw", 0, 3, blk[1], true)); err != nil {
			return nil, err
		}
		if h, err = b.ConvUnit(h, unit(cfg, name+".pw", ch(blk[0]), 1, 1, false)); err != nil {
			return nil, err
		}
	}
	if h, err = b.GlobalAvgPool(h); err != nil {
		return nil, err
	}
	return b.Dense(h, "classifier", cfg.Classes)
}

// makeDivisible rounds v to the nearest multiple of divisor, never below 90% of v (torchvision's _make_divisible,
// used for MobileNetV2's width multiplier).
func makeDivisible(v float64, divisor int) int {
	n := max(divisor, int(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// mobileNetV2 builds: unit "stem" (3×3 to 32, stride 1), inverted residual blocks "blocks.b" — expand 1×1 unit
// "blocks.b.expand" (absent when t = 1), depthwise 3×3 unit "blocks.b.dw", linear projection "blocks.b.project"
// (1×1 conv → BN, no activation, in every placement), and a residual add when the stride is 1 and the channels
// match — then a 1×1 "head" unit to 1280, global average pool and Linear "classifier". The activation replaces
// ReLU6 everywhere; nothing follows the residual add.
func mobileNetV2(b *layers.Builder, x *G.Node, cfg Config) (*G.Node, error) {
	w := cfg.width()
	h, err := b.ConvUnit(x, unit(cfg, "stem", makeDivisible(32*w, 8), 3, 1, false))
	if err != nil {
		return nil, err
	}
	k := 0
	for _, row := range mobileNetV2Table {
		t, out := row[0], makeDivisible(float64(row[1])*w, 8)
		for i := 0; i < row[2]; i++ {
			stride := 1
			if i == 0 {
				stride = row[3]
			}
			if h, err = invertedResidual(b, h, fmt.Sprintf("blocks.%d", k), t, out, stride, cfg); err != nil {
				return nil, err
			}
			k++
		}
	}
	if h, err = b.ConvUnit(h, unit(cfg, "head", makeDivisible(1280*max(1, w), 8), 1, 1, false)); err != nil {
		return nil, err
	}
	if h, err = b.GlobalAvgPool(h); err != nil {
		return nil, err
	}
	return b.Dense(h, "classifier", cfg.Classes)
}

// invertedResidual is MobileNetV2's block: expand (1×1 unit, skipped when t = 1) → depthwise 3×3 unit → linear
// 1×1 projection (conv → BN), plus x when the stride is 1 and the channels match.
func invertedResidual(b *layers.Builder, x *G.Node, name string, t, out, stride int, cfg Config) (*G.Node, error) {
	in := x.Shape()[1]
	y, err := x, error(nil)
	if t != 1 {
		if y, err = b.ConvUnit(y, unit(cfg, name+".expand", in*t, 1, 1, false)); err != nil {
			return nil, err
		}
	}
	if y, err = b.ConvUnit(y, unit(cfg, name+".dw", 0, 3, stride, true)); err != nil {
		return nil, err
	}
	var shortcut *G.Node
	if stride == 1 && in == out {
		shortcut = x
	}
	return b.ConvBNAdd(y, name+".project", out, 1, 1, 0, shortcut)
}
