package zoo

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// rewriteConfig saves a small model and rewrites the config in its metadata with edit, keeping its tensors: the
// hostile file of issue 15, where a few changed digits asked for a model of terabytes.
func rewriteConfig(t *testing.T, c Config, edit func(*Config)) string {
	t.Helper()
	m, err := New(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(&c)
	raw, _ := json.Marshal(c)
	f.Metadata[metaConfig] = string(raw)
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLoadRefusesHugeConfigs: each of these files made Load allocate the model its metadata asked for (a fatal
// out-of-memory error for classes 2e9) before looking at its tensors.
func TestLoadRefusesHugeConfigs(t *testing.T) {
	mnist := [3]int{1, 28, 28}
	for _, tc := range []struct {
		name, field string
		base        Config
		edit        func(*Config)
	}{
		{"classes", "classes", cfg("vgg_mini", "tanh", layers.Conventional, mnist), func(c *Config) { c.Classes = 2_000_000_000 }},
		{"input side", "input_shape", cfg("vgg_mini", "tanh", layers.Conventional, mnist), func(c *Config) { c.InputShape = [3]int{1, 100000, 100000} }},
		{"mobilenet width", "width", Config{Arch: "mobilenet_v1", Classes: 10, InputShape: [3]int{3, 8, 8}, Width: 0.25},
			func(c *Config) { c.Width = 5000 }},
		// Within every field's bound, but vgg_mini would flatten 128·512·512 features into 100000 classes: 12 TiB.
		{"parameter memory", "MaxParamBytes", cfg("vgg_mini", "tanh", layers.Conventional, mnist),
			func(c *Config) { c.InputShape = [3]int{1, 4096, 4096}; c.Classes = 100_000 }},
		// The tensors no longer match the config: refused before the model is built.
		{"tensors", "shape", cfg("vgg_mini", "tanh", layers.Conventional, mnist), func(c *Config) { c.Classes = 1000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := rewriteConfig(t, tc.base, tc.edit)
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load: %v; want an error naming %q and the file", err, tc.field)
			}
		})
	}
}

func TestNewRefusesOverLimits(t *testing.T) {
	for _, tc := range []struct {
		field string
		c     Config
	}{
		{"classes", cfg("vgg_mini", "tanh", layers.Conventional, cifar)},
		{"width", Config{Arch: "mobilenet_v1", Classes: 10, InputShape: cifar, Width: 1000}},
		{"width", Config{Arch: "mobilenet_v1", Classes: 10, InputShape: cifar, Width: posInf()}},
		{"MaxActivationBytes", cfg("vgg_mini", "tanh", layers.Conventional, [3]int{64, 4096, 4096})},
	} {
		if tc.field == "classes" {
			tc.c.Classes = DefaultLimits.MaxClasses + 1
		}
		if _, err := New(tc.c, tensor.Float32); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("New(%+v): %v; want an error naming %q", tc.c, err, tc.field)
		}
		if _, err := Describe(tc.c); err == nil {
			t.Errorf("Describe(%+v) accepted a config over the limits", tc.c)
		}
	}
	nan := Config{Arch: "mobilenet_v1", Classes: 10, InputShape: cifar}
	nan.Width = posInf() - posInf()
	if err := nan.Validate(); err == nil || !strings.Contains(err.Error(), "width") {
		t.Errorf("width NaN: %v", err)
	}
}

func posInf() float64 { x := 1e308; return x * 10 }

// TestRaisingLimits: a caller that needs a bigger model raises DefaultLimits; lowering them refuses a small one.
func TestRaisingLimits(t *testing.T) {
	saved := DefaultLimits
	defer func() { DefaultLimits = saved }()
	c := cfg("vgg_mini", "tanh", layers.Conventional, cifar)
	f, err := Estimate(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	DefaultLimits.MaxParamBytes = f.ParamBytes - 1
	if _, err := New(c, tensor.Float32); err == nil || !strings.Contains(err.Error(), "MaxParamBytes") {
		t.Fatalf("a limit one byte below the model: %v", err)
	}
	DefaultLimits.MaxParamBytes = f.ParamBytes
	if _, err := New(c, tensor.Float32); err != nil {
		t.Fatalf("a limit equal to the model: %v", err)
	}
	DefaultLimits.MaxClasses = 5
	if _, err := New(c, tensor.Float32); err == nil || !strings.Contains(err.Error(), "classes") {
		t.Fatalf("10 classes over a limit of 5: %v", err)
	}
}

// TestEstimateMatchesModel: the shape-only estimate counts exactly the parameters and tensors New allocates.
func TestEstimateMatchesModel(t *testing.T) {
	for _, c := range []Config{
		cfg("vgg_mini", "tanh", layers.Swapped, cifar),
		cfg("resnet20", "relu", layers.Conventional, cifar),
		{Arch: "mobilenet_v2", Classes: 10, InputShape: [3]int{3, 16, 16}, Width: 0.5, Placement: layers.NoBN},
	} {
		f, err := Estimate(c, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(c, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		if int(f.Params) != m.ParamCount() {
			t.Errorf("%s: estimate %d parameters, model has %d", c, f.Params, m.ParamCount())
		}
		names := m.Store.StateNames()
		if len(names) != len(f.Shapes) {
			t.Errorf("%s: estimate %d tensors, model has %d", c, len(f.Shapes), len(names))
		}
		bytes := int64(0)
		for _, n := range names {
			if _, ok := f.Shapes[n]; !ok {
				t.Errorf("%s: estimate lacks %q", c, n)
			}
			bytes += int64(tensor.Shape(f.Shapes[n]).TotalSize()) * 8
		}
		if bytes != f.ParamBytes {
			t.Errorf("%s: ParamBytes %d, tensors hold %d", c, f.ParamBytes, bytes)
		}
		// At least the input and the logits; a conv net holds far more.
		if min := int64(8 * (3*16*16 + 10)); f.ActivationBytes <= min {
			t.Errorf("%s: activations %d bytes, want more than %d", c, f.ActivationBytes, min)
		}
	}
}
