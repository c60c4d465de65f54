package zoo_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
)

// New builds a model from its config: the architecture by name, the activation by name, the BatchNorm placement,
// and the seed its parameters are initialised from. The parameter type is zoo.Float32 or zoo.Float64.
func ExampleNew() {
	act, err := layers.ParseActivation("lecun_tanh")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := zoo.Config{Arch: "resnet20", Classes: 10, InputShape: [3]int{3, 32, 32}, Activation: act,
		Placement: layers.Swapped, Seed: 1}
	m, err := zoo.New(cfg, zoo.Float32)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Config, m.Dtype(), m.ParamCount(), "parameters") // 269,722 as PyTorch counts them

	// A config the zoo cannot build is one error naming what is wrong.
	cfg.Arch = "resnet21"
	_, err = zoo.New(cfg, zoo.Float32)
	fmt.Println(err != nil)
	// Output:
	// resnet20 lecun_tanh swapped float32 269722 parameters
	// true
}

// Save writes the parameters, the BatchNorm statistics and the config; Load rebuilds the model from the file
// alone.
func ExampleLoad() {
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Placement: layers.Conventional, Seed: 7}, zoo.Float64)
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "zoo-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vgg_mini.safetensors")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := zoo.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := loaded.ParamCount() == m.ParamCount()
	for i, p := range loaded.Store.Params() {
		for j, v := range p.Value.Float64s() {
			same = same && v == m.Store.Params()[i].Value.Float64s()[j]
		}
	}
	fmt.Println(loaded.Config, loaded.Config.Seed, loaded.Dtype(), "identical:", same)
	// Output:
	// vgg_mini tanh conventional 7 float64 identical: true
}

// ParseDtype reads a parameter type by name, as run.json and the command-line tools spell it.
func ExampleParseDtype() {
	for _, name := range []string{"float64", "", "int8"} {
		dt, err := zoo.ParseDtype(name)
		fmt.Println(dt, err)
	}
	// Output:
	// float64 <nil>
	// float32 <nil>
	// float32 unknown dtype "int8" (valid: float32, float64)
}

// Match lists the registered architectures matching a pattern.
func ExampleMatch() {
	names, err := zoo.Match("resnet*")
	fmt.Println(names, err)
	// Output:
	// [resnet110 resnet18 resnet20 resnet32 resnet34 resnet44 resnet56] <nil>
}
