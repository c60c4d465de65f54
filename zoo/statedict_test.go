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

// trainedMini is a small BN model after two training passes: running statistics away from 0/1, counts of 2.
func trainedMini(t *testing.T) *Model {
	t.Helper()
	m, err := New(cfg("vgg_mini", "tanh", layers.Swapped, [3]int{1, 8, 8}), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	evalLogits(t, m, true)
	evalLogits(t, m, true)
	return m
}

// savedFile saves m and returns the path and the decoded file, for a test to edit and write back.
func savedFile(t *testing.T, m *Model) (string, *safetensors.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, f
}

func writeEdited(t *testing.T, f *safetensors.File, edit func(*safetensors.File)) string {
	t.Helper()
	edit(f)
	path := filepath.Join(t.TempDir(), "edited.safetensors")
	if err := safetensors.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestInteropSaveWritesNumBatchesTracked: every BatchNorm's count is an I64 scalar named as PyTorch names it, the
// file's names are exactly the model's state-dict names, and the legacy metadata is gone.
func TestInteropSaveWritesNumBatchesTracked(t *testing.T) {
	m := trainedMini(t)
	_, f := savedFile(t, m)
	if _, ok := f.Metadata[metaTracked]; ok {
		t.Errorf("Save still writes %q", metaTracked)
	}
	var names []string
	for _, tt := range f.Tensors {
		names = append(names, tt.Name)
	}
	if got, want := strings.Join(names, ","), strings.Join(m.Store.StateNames(), ","); got != want {
		t.Fatalf("file tensors\n%s\nstate names\n%s", got, want)
	}
	for _, bn := range m.Store.BNNames() {
		tt, ok := f.Get(bn + ".num_batches_tracked")
		if !ok || tt.DType != safetensors.I64 || len(tt.Shape) != 0 || tt.Shape == nil || len(tt.I64) != 1 || tt.I64[0] != 2 {
			t.Fatalf("%s.num_batches_tracked = %+v, want I64 scalar 2", bn, tt)
		}
	}
}

// TestInteropLegacyTrackedMetadata: files written before the counts were tensors (counts in "bnzoo.tracked") still
// load through Load, LoadWeights and LoadWithConfig.
func TestInteropLegacyTrackedMetadata(t *testing.T) {
	m := trainedMini(t)
	_, f := savedFile(t, m)
	legacy := writeEdited(t, f, func(f *safetensors.File) {
		counts := map[string]int64{}
		kept := f.Tensors[:0]
		for _, tt := range f.Tensors {
			if bn, ok := strings.CutSuffix(tt.Name, ".num_batches_tracked"); ok {
				counts[bn] = tt.I64[0] + 3 // distinguishable from a default
				continue
			}
			kept = append(kept, tt)
		}
		f.Tensors = kept
		raw, _ := json.Marshal(counts)
		f.Metadata[metaTracked] = string(raw)
		safetensors.AddChecksums(f)
	})
	check := func(how string, back *Model) {
		for _, bn := range back.Store.BNNames() {
			if st, _ := back.Store.LookupBN(bn); st.Tracked != 5 {
				t.Errorf("%s: %s tracked %d, want 5", how, bn, st.Tracked)
			}
		}
	}
	back, err := Load(legacy)
	if err != nil {
		t.Fatal(err)
	}
	check("Load", back)
	fresh, _ := New(m.Config, tensor.Float32)
	if err := fresh.LoadWeights(legacy); err != nil {
		t.Fatal(err)
	}
	check("LoadWeights", fresh)
	if back, err = LoadWithConfig(legacy, m.Config, Float32); err != nil {
		t.Fatal(err)
	}
	check("LoadWithConfig", back)
}

// TestInteropLoadWithConfig: a plain state dict (no metadata at all, as PyTorch users save one) loads given its
// config and gives the same logits; a float32 file fills a float64 model exactly.
func TestInteropLoadWithConfig(t *testing.T) {
	m := trainedMini(t)
	want := evalLogits(t, m, false)
	_, f := savedFile(t, m)
	plain := writeEdited(t, f, func(f *safetensors.File) { f.Metadata = nil })
	if _, err := Load(plain); err == nil || !strings.Contains(err.Error(), "LoadWithConfig") {
		t.Fatalf("Load of a file without config: %v", err)
	}
	back, err := LoadWithConfig(plain, m.Config, Float32)
	if err != nil {
		t.Fatal(err)
	}
	got := evalLogits(t, back, false)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: %v, want %v", i, got[i], want[i])
		}
	}
	st, _ := back.Store.LookupBN("features.0.bn")
	if st.Tracked != 2 {
		t.Fatalf("tracked %d, want 2", st.Tracked)
	}
	wide, err := LoadWithConfig(plain, m.Config, Float64)
	if err != nil {
		t.Fatal(err)
	}
	p32, _ := m.Store.Lookup("features.1.conv.weight")
	p64, _ := wide.Store.Lookup("features.1.conv.weight")
	for i, v := range p32.Value.Float32s() {
		if p64.Value.Float64s()[i] != float64(v) {
			t.Fatalf("float64 model: element %d is %v, want %v", i, p64.Value.Float64s()[i], v)
		}
	}
}

// TestInteropLoadWithConfigErrors: each way a state dict can differ from the model is an error naming the key (or
// the configs), before anything is loaded.
func TestInteropLoadWithConfigErrors(t *testing.T) {
	m := trainedMini(t)
	_, f := savedFile(t, m)
	strip := func(edit func(f *safetensors.File)) func(f *safetensors.File) {
		return func(f *safetensors.File) { f.Metadata = nil; edit(f) }
	}
	drop := func(name string) func(f *safetensors.File) {
		return strip(func(f *safetensors.File) {
			kept := f.Tensors[:0]
			for _, tt := range f.Tensors {
				if tt.Name != name {
					kept = append(kept, tt)
				}
			}
			f.Tensors = kept
		})
	}
	set := func(name string, fn func(tt *safetensors.Tensor)) func(f *safetensors.File) {
		return strip(func(f *safetensors.File) { tt, _ := f.Get(name); fn(tt) })
	}
	for _, c := range []struct {
		name string
		edit func(f *safetensors.File)
		cfg  Config
		want []string
	}{
		{"missing count", drop("features.1.bn.num_batches_tracked"), m.Config, []string{`"features.1.bn.num_batches_tracked" is missing`}},
		{"missing weight", drop("classifier.bias"), m.Config, []string{`"classifier.bias" is missing`}},
		{"extra tensor", strip(func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "features.0.conv.bias", DType: safetensors.F32, Shape: []int{32}, F32: make([]float32, 32)})
		}), m.Config, []string{`"features.0.conv.bias" does not belong`}},
		{"count as float", set("features.0.bn.num_batches_tracked", func(tt *safetensors.Tensor) {
			tt.DType, tt.I64, tt.F32 = safetensors.F32, nil, []float32{2}
		}), m.Config, []string{`"features.0.bn.num_batches_tracked"`, "I64 scalar"}},
		{"count of shape [1]", set("features.0.bn.num_batches_tracked", func(tt *safetensors.Tensor) { tt.Shape = []int{1} }),
			m.Config, []string{`"features.0.bn.num_batches_tracked" has shape [1]`}},
		{"negative count", set("features.2.bn.num_batches_tracked", func(tt *safetensors.Tensor) { tt.I64[0] = -1 }),
			m.Config, []string{`"features.2.bn.num_batches_tracked" counts -1`}},
		{"weight as int", set("classifier.bias", func(tt *safetensors.Tensor) {
			tt.DType, tt.I64, tt.F32 = safetensors.I64, make([]int64, len(tt.F32)), nil
		}), m.Config, []string{`"classifier.bias" has dtype I64`}},
		{"float64 beyond float32", set("classifier.bias", func(tt *safetensors.Tensor) {
			tt.DType, tt.F64, tt.F32 = safetensors.F64, make([]float64, len(tt.F32)), nil
			tt.F64[3] = 1e300
		}), m.Config, []string{`"classifier.bias"`, "element 3", "float32's range"}},
		{"other input shape", strip(func(*safetensors.File) {}), cfg("vgg_mini", "tanh", layers.Swapped, [3]int{1, 16, 16}),
			[]string{`"classifier.weight" has shape [10 128], the model needs [10 512]`}},
		{"placement none", strip(func(*safetensors.File) {}), cfg("vgg_mini", "tanh", layers.NoBN, [3]int{1, 8, 8}),
			[]string{"does not belong"}},
		{"config metadata differs", func(*safetensors.File) {}, cfg("vgg_mini", "tanh", layers.Conventional, [3]int{1, 8, 8}),
			[]string{"holds a vgg_mini tanh swapped model", "not the vgg_mini tanh conventional model"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := *f
			g.Tensors = make([]safetensors.Tensor, len(f.Tensors))
			for i, tt := range f.Tensors {
				tt.I64 = append([]int64(nil), tt.I64...)
				g.Tensors[i] = tt
			}
			g.Metadata = map[string]string{}
			for k, v := range f.Metadata {
				g.Metadata[k] = v
			}
			path := writeEdited(t, &g, c.edit)
			_, err := LoadWithConfig(path, c.cfg, Float32)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range append(c.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	// LoadWeights checks everything before it copies anything: a model refused a bad file is unchanged.
	bad := writeEdited(t, f, drop("features.2.bn.num_batches_tracked"))
	fresh, _ := New(m.Config, tensor.Float32)
	before := evalLogits(t, fresh, false)
	if err := fresh.LoadWeights(bad); err == nil {
		t.Fatal("LoadWeights accepted a file without a count")
	}
	for i, v := range evalLogits(t, fresh, false) {
		if v != before[i] {
			t.Fatalf("a refused LoadWeights changed logit %d", i)
		}
	}
}
