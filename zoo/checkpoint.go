package zoo

import (
	"encoding/json"
	"fmt"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"gorgonia.org/tensor"
)

// Metadata keys of a bnzoo safetensors file.
const (
	metaConfig  = "bnzoo.config"  // the model's Config as JSON: the file alone rebuilds its model
	metaTracked = "bnzoo.tracked" // JSON object: BN name → batches tracked (PyTorch's num_batches_tracked)
	metaFormat  = "format"        // "pt", as PyTorch-written files say
)

// Save writes the model's parameters and BatchNorm running statistics to path as a safetensors file (F32 or F64
// as the model's dtype), with the config in the metadata. Tensor names are PyTorch state-dict names
// ("features.0.conv.weight", "features.0.bn.running_var", "classifier.weight"). The metadata also holds the
// CRC-32C of every tensor (safetensors.ChecksumKey), which Load checks. The write is atomic.
func (m *Model) Save(path string) error {
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tracked := map[string]int64{}
	f := &safetensors.File{Metadata: map[string]string{metaConfig: string(cfg), metaFormat: "pt"}}
	f64 := m.Store.Dtype() == tensor.Float64
	add := func(name string, shape []int, d32 []float32, d64 []float64) {
		t := safetensors.Tensor{Name: name, Shape: shape}
		if f64 {
			t.DType, t.F64 = safetensors.F64, d64
		} else {
			t.DType, t.F32 = safetensors.F32, d32
		}
		f.Tensors = append(f.Tensors, t)
	}
	for _, p := range m.Store.Params() {
		if f64 {
			add(p.Name, p.Value.Shape().Clone(), nil, p.Value.Float64s())
		} else {
			add(p.Name, p.Value.Shape().Clone(), p.Value.Float32s(), nil)
		}
	}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		tracked[name] = st.Tracked
		add(name+".running_mean", []int{len(st.Mean)}, toF32(st.Mean), st.Mean)
		add(name+".running_var", []int{len(st.Var)}, toF32(st.Var), st.Var)
	}
	tb, _ := json.Marshal(tracked)
	f.Metadata[metaTracked] = string(tb)
	safetensors.AddChecksums(f)
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Load rebuilds a model from a file written by Save: the architecture comes from the file's metadata. Tensor
// checksums are verified when the file has them (files written by others load without). The config
// is checked against DefaultLimits and every tensor of the file against the architecture (names and shapes)
// before the model is allocated, so a hostile config costs nothing; a missing or misshapen tensor is an error
// naming the key.
func Load(path string) (*Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return loadFile(path, f)
}

// loadFile is Load once the file is decoded (the fuzz test feeds it bytes without writing files).
func loadFile(path string, f *safetensors.File) (*Model, error) {
	if err := safetensors.VerifyChecksums(path, f); err != nil {
		return nil, err
	}
	raw, ok := f.Metadata[metaConfig]
	if !ok {
		return nil, fmt.Errorf("load %s: no %q metadata: not a bnzoo model file", path, metaConfig)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("load %s: metadata %q: %w", path, metaConfig, err)
	}
	dtype := tensor.Float32
	if len(f.Tensors) > 0 && f.Tensors[0].DType == safetensors.F64 {
		dtype = tensor.Float64
	}
	fp, err := checkFootprint(cfg, dtype, false)
	if err != nil {
		return nil, fmt.Errorf("load %s: metadata %q: %w", path, metaConfig, err)
	}
	shapes := make(map[string][]int, len(f.Tensors))
	for _, t := range f.Tensors {
		shapes[t.Name] = t.Shape
	}
	if err := fp.CheckTensors(shapes); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	m, err := newModel(cfg, dtype)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := m.loadFrom(path, f); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights loads a file written by Save into m, which must have the same architecture (same tensor names and
// shapes); the file's config is not used otherwise.
func (m *Model) LoadWeights(path string) error {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return err
	}
	if err := safetensors.VerifyChecksums(path, f); err != nil {
		return err
	}
	return m.loadFrom(path, f)
}

func (m *Model) loadFrom(path string, f *safetensors.File) error {
	if raw, ok := f.Metadata[metaConfig]; ok {
		var other Config
		if json.Unmarshal([]byte(raw), &other) == nil && other.Arch != m.Config.Arch {
			return fmt.Errorf("load %s: file holds a %s, the model is a %s", path, other.Arch, m.Config.Arch)
		}
	}
	want := map[string]bool{}
	for _, n := range m.Store.StateNames() {
		want[n] = true
	}
	for _, t := range f.Tensors {
		if !want[t.Name] {
			return fmt.Errorf("load %s: key %q does not belong to %s", path, t.Name, m.Config)
		}
	}
	get := func(name string, shape tensor.Shape) (*safetensors.Tensor, error) {
		t, ok := f.Get(name)
		if !ok {
			return nil, fmt.Errorf("load %s: key %q is missing", path, name)
		}
		if !tensor.Shape(t.Shape).Eq(shape) || (len(t.Shape) == 0) != (len(shape) == 0) {
			return nil, fmt.Errorf("load %s: key %q has shape %v, the model needs %v", path, name, t.Shape, shape)
		}
		if t.DType != safetensors.F32 && t.DType != safetensors.F64 {
			return nil, fmt.Errorf("load %s: key %q has dtype %s", path, name, t.DType)
		}
		return t, nil
	}
	for _, p := range m.Store.Params() {
		t, err := get(p.Name, p.Value.Shape())
		if err != nil {
			return err
		}
		switch p.Value.Dtype() {
		case tensor.Float64:
			copyInto(p.Value.Float64s(), t)
		default:
			copyInto(p.Value.Float32s(), t)
		}
	}
	var tracked map[string]int64
	if raw, ok := f.Metadata[metaTracked]; ok {
		if err := json.Unmarshal([]byte(raw), &tracked); err != nil {
			return fmt.Errorf("load %s: metadata %q: %w", path, metaTracked, err)
		}
	}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		shape := tensor.Shape{len(st.Mean)}
		mean, err := get(name+".running_mean", shape)
		if err != nil {
			return err
		}
		variance, err := get(name+".running_var", shape)
		if err != nil {
			return err
		}
		copyInto(st.Mean, mean)
		copyInto(st.Var, variance)
		st.Tracked = tracked[name]
	}
	return nil
}

func copyInto[T float32 | float64](dst []T, t *safetensors.Tensor) {
	if t.DType == safetensors.F64 {
		for i, v := range t.F64 {
			dst[i] = T(v)
		}
		return
	}
	for i, v := range t.F32 {
		dst[i] = T(v)
	}
}
