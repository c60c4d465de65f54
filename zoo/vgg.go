package zoo

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
)

// pool marks a 2×2 max-pool in a VGG configuration table.
const pool = -1

// vggConfigs are torchvision's VGG tables (A = vgg11, B = vgg13, D = vgg16, E = vgg19) plus vgg_mini, a three-stage
// net small enough to train on a CPU in minutes. Numbers are conv output channels (3×3, padding 1).
var vggConfigs = map[string][]int{
	"vgg_mini": {32, pool, 64, pool, 128, pool},
	"vgg11":    {64, pool, 128, pool, 256, 256, pool, 512, 512, pool, 512, 512, pool},
	"vgg13":    {64, 64, pool, 128, 128, pool, 256, 256, pool, 512, 512, pool, 512, 512, pool},
	"vgg16":    {64, 64, pool, 128, 128, pool, 256, 256, 256, pool, 512, 512, 512, pool, 512, 512, 512, pool},
	"vgg19": {64, 64, pool, 128, 128, pool, 256, 256, 256, 256, pool, 512, 512, 512, 512, pool,
		512, 512, 512, 512, pool},
}

func init() {
	for name, table := range vggConfigs {
		Register(name, vggBuilder(table))
	}
}

// vggBuilder returns the builder for one VGG table: units "features.k" (k counts convs), then a CIFAR-style head —
// flatten and a single Linear "classifier". A max-pool whose input is already smaller than 2×2 (vgg11 on 28×28
// MNIST reaches 1×1 before its last pool) is skipped rather than failing, so every VGG runs on every input size of
// the study.
func vggBuilder(table []int) BuildFunc {
	return func(b *layers.Builder, x *G.Node, cfg Config) (*G.Node, error) {
		h, k := x, 0
		for _, v := range table {
			if v == pool {
				s := h.Shape()
				if s[2] < 2 || s[3] < 2 {
					continue
				}
				var err error
				if h, err = b.MaxPool2d(h, 2, 2); err != nil {
					return nil, err
				}
				continue
			}
			var err error
			h, err = b.ConvUnit(h, unit(cfg, fmt.Sprintf("features.%d", k), v, 3, 1, false))
			if err != nil {
				return nil, err
			}
			k++
		}
		flat, err := b.Flatten(h)
		if err != nil {
			return nil, err
		}
		return b.Dense(flat, "classifier", cfg.Classes)
	}
}
