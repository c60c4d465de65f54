package zoo

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// fuzzSeeds are whole model files of tiny models (MobileNetV1 at width 0.02 on 4×4 inputs: a few thousand
// parameters), in every placement and both dtypes, with and without checksums, so the fuzzer mutates real
// metadata and tensors.
func fuzzSeeds(f *testing.F) {
	f.Helper()
	for _, pl := range []layers.Placement{layers.Conventional, layers.Swapped, layers.NoBN} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			c := Config{Arch: "mobilenet_v1", Classes: 3, InputShape: [3]int{1, 4, 4}, Width: 0.02,
				Activation: layers.MustActivation("tanh"), Placement: pl, Seed: 2}
			m, err := New(c, dt)
			if err != nil {
				f.Fatal(err)
			}
			path := filepath.Join(f.TempDir(), "seed.safetensors")
			if err := m.Save(path); err != nil {
				f.Fatal(err)
			}
			sf, err := safetensors.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			var buf bytes.Buffer
			if err := safetensors.Encode(&buf, sf); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
			// Without checksums (as other writers produce files), mutated tensor data reaches the copy.
			delete(sf.Metadata, safetensors.ChecksumKey)
			buf.Reset()
			if err := safetensors.Encode(&buf, sf); err != nil {
				f.Fatal(err)
			}
			f.Add(buf.Bytes())
		}
	}
}

// FuzzLoad feeds whole model files — metadata and tensors — through Load. Whatever the bytes, Load must return
// a model or an error, never panic or allocate more than the file could justify: a model it returns has every
// parameter from the file, so its parameters fit in the file's bytes, and its config passes Validate.
func FuzzLoad(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := safetensors.Decode("fuzz.safetensors", data)
		if err != nil {
			return
		}
		m, err := loadFile("fuzz.safetensors", sf)
		if err != nil {
			return
		}
		if err := m.Config.Validate(); err != nil {
			t.Fatalf("loaded a model whose config is invalid: %v", err)
		}
		if size := int64(m.ParamCount()) * int64(m.Store.Dtype().Size()); size > int64(len(data)) {
			t.Fatalf("a %d-byte file gave %d bytes of parameters", len(data), size)
		}
	})
}
