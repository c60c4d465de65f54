package layers_test

import (
	"encoding/json"
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
)

// Activations are chosen by name; each knows the bounds of its range, which the saturation analysis measures
// against.
func ExampleParseActivation() {
	for _, name := range []string{"tanh", "lecun_tanh", "relu", "shifted_tanh:0.5", "leaky_relu", "elu", "gelu", "swish"} {
		a, err := layers.ParseActivation(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		lo, hi := a.Bounds()
		fmt.Printf("%s: [%.4g, %.4g] bounded %v\n", a, lo, hi, a.Bounded())
	}
	// Output:
	// tanh: [-1, 1] bounded true
	// lecun_tanh: [-1.716, 1.716] bounded true
	// relu: [0, +Inf] bounded false
	// shifted_tanh:0.5: [-1, 1] bounded true
	// leaky_relu:0.01: [-Inf, +Inf] bounded false
	// elu:1: [-1, +Inf] bounded false
	// gelu: [-0.17, +Inf] bounded false
	// unknown activation "swish" (valid: relu, tanh, lecun_tanh, softsign, sigmoid, hardtanh, identity, shifted_tanh, leaky_relu, elu, silu, gelu; shifted_tanh takes :<shift>, leaky_relu and elu take :<alpha>)
}

// A placement says where a unit's BatchNorm goes: conventional (weight → BN → activation), swapped (weight →
// activation → BN) or none. It reads and writes as text, so configs hold it by name.
func ExampleParsePlacement() {
	p, err := layers.ParsePlacement("swapped")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := json.Marshal(struct{ Placement layers.Placement }{p})
	fmt.Println(p, p.HasBN(), string(b), err)
	fmt.Println(layers.PlacementNames())
	// Output:
	// swapped true {"Placement":"swapped"} <nil>
	// [conventional swapped none]
}
