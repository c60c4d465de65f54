package zoo

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"gorgonia.org/tensor"
)

// Metadata keys of a bnzoo safetensors file. PyTorch ignores metadata: a state dict needs none of them.
const (
	metaConfig = "bnzoo.config" // the model's Config as JSON: the file alone rebuilds its model
	// metaTracked is the legacy home of the BatchNorm batch counts (JSON object: BN name → count). Files written
	// before the counts became "<bn>.num_batches_tracked" tensors have it and no such tensors; Save no longer
	// writes it, since a second copy could only disagree with the tensors, and a reader that predates the tensors
	// cannot load the new files anyway (it rejects their I64 tensors as unsupported).
	metaTracked = "bnzoo.tracked"
	metaFormat  = "format" // "pt", as PyTorch-written files say
)

// trackedSuffix ends the name of a BatchNorm's batch count, PyTorch's int64 scalar buffer.
const trackedSuffix = ".num_batches_tracked"

// Save writes the model's state dict to path as a safetensors file, named and shaped as PyTorch's state_dict() of
// the same model (interop/pytorch/models.py): parameters ("features.0.conv.weight", "classifier.weight") and
// BatchNorm running statistics ("features.0.bn.running_mean", ".running_var") in the model's dtype (F32 or F64),
// and each BatchNorm's batch count as an I64 scalar "<bn>.num_batches_tracked" — so that a plain strict
// load_state_dict accepts the file. The metadata holds the config (Load rebuilds the model from it) and the
// CRC-32C of every tensor (safetensors.ChecksumKey), which the loaders check. The write is atomic.
func (m *Model) Save(path string) error {
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
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
		add(name+".running_mean", []int{len(st.Mean)}, toF32(st.Mean), st.Mean)
		add(name+".running_var", []int{len(st.Var)}, toF32(st.Var), st.Var)
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name + trackedSuffix, DType: safetensors.I64,
			Shape: []int{}, I64: []int64{st.Tracked}})
	}
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
// before the model is allocated, so a hostile config costs nothing; a missing, extra or misshapen tensor is an
// error naming the key. The model takes the dtype of the file's first floating-point tensor; files written
// before the batch counts were tensors load too (see metaTracked). For a file without bnzoo's metadata, such as
// a state dict saved by PyTorch, use LoadWithConfig.
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
		return nil, fmt.Errorf("load %s: no %q metadata: not a bnzoo model file (zoo.LoadWithConfig loads a state dict given its config)", path, metaConfig)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("load %s: metadata %q: %w", path, metaConfig, err)
	}
	dtype := tensor.Float32
	for _, t := range f.Tensors {
		if t.DType == safetensors.F32 || t.DType == safetensors.F64 {
			if t.DType == safetensors.F64 {
				dtype = tensor.Float64
			}
			break
		}
	}
	return buildAndFill(path, f, cfg, dtype)
}

// LoadWithConfig builds the model cfg describes, in dtype, and fills every parameter, BatchNorm running statistic
// and batch count from the safetensors file at path: a state dict saved from PyTorch (the definitions in
// interop/pytorch/models.py, written in the safetensors layout) or a file written by Save. The file needs no
// metadata; when it has bnzoo's config, that config must describe the same model as cfg (the seed aside).
//
// The file must hold exactly the model's state dict: a missing or extra tensor, or one of another shape, is an
// error naming the key, found before the model is allocated. Parameters and running statistics may be F32 or F64
// whatever dtype is: F32 → float64 is exact; F64 → float32 rounds to nearest, as PyTorch's .float() does, and a
// value beyond float32's range is an error naming the key. Batch counts must be non-negative I64 scalars, as
// PyTorch writes them. Checksums are verified when the file has bnzoo's.
func LoadWithConfig(path string, cfg Config, dtype Dtype) (*Model, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := safetensors.VerifyChecksums(path, f); err != nil {
		return nil, err
	}
	if raw, ok := f.Metadata[metaConfig]; ok {
		var saved Config
		if err := json.Unmarshal([]byte(raw), &saved); err != nil {
			return nil, fmt.Errorf("load %s: metadata %q: %w", path, metaConfig, err)
		}
		want := cfg
		want.Seed, want.Width, saved.Width = saved.Seed, want.width(), saved.width()
		if same, err := saved.sameModel(want); err != nil || !same {
			return nil, fmt.Errorf("load %s: the file holds a %s model (%s), not the %s model (%s) asked for", path,
				saved, raw, cfg, mustJSON(cfg))
		}
	}
	return buildAndFill(path, f, cfg, dtype)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // a Config always marshals
	return string(b)
}

// buildAndFill checks cfg against DefaultLimits and the file's tensors against cfg's state dict, then allocates
// the model and copies the tensors in.
func buildAndFill(path string, f *safetensors.File, cfg Config, dtype tensor.Dtype) (*Model, error) {
	fp, err := checkFootprint(cfg, dtype, false)
	if err != nil {
		return nil, fmt.Errorf("load %s: config: %w", path, err)
	}
	legacy, err := legacyTracked(path, f)
	if err != nil {
		return nil, err
	}
	shapes := make(map[string][]int, len(f.Tensors))
	for _, t := range f.Tensors {
		shapes[t.Name] = t.Shape
	}
	if legacy != nil {
		for name, shape := range fp.Shapes {
			if strings.HasSuffix(name, trackedSuffix) {
				shapes[name] = shape // the count is in the metadata
			}
		}
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

// LoadWeights loads a file written by Save (or any state dict of the same model, as LoadWithConfig reads it) into
// m, which must have the same architecture (same tensor names and shapes); the file's config is not used
// otherwise. Every tensor is checked before any is copied, so on error m is unchanged.
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

// legacyTracked returns the batch counts of a file written before they were "<bn>.num_batches_tracked" tensors
// (the metaTracked metadata), or nil when the file has any such tensor or no such metadata: then every count must
// be a tensor.
func legacyTracked(path string, f *safetensors.File) (map[string]int64, error) {
	raw, ok := f.Metadata[metaTracked]
	if !ok {
		return nil, nil
	}
	for _, t := range f.Tensors {
		if strings.HasSuffix(t.Name, trackedSuffix) {
			return nil, nil
		}
	}
	tracked := map[string]int64{}
	if err := json.Unmarshal([]byte(raw), &tracked); err != nil {
		return nil, fmt.Errorf("load %s: metadata %q: %w", path, metaTracked, err)
	}
	for name, n := range tracked {
		if n < 0 {
			return nil, fmt.Errorf("load %s: metadata %q: %s counts %d batches", path, metaTracked, name, n)
		}
	}
	return tracked, nil
}

// loadFrom checks that f holds exactly m's state dict (names, shapes, dtypes, float64 values that fit a float32
// model, non-negative counts) and then copies it into m; on error m is unchanged.
func (m *Model) loadFrom(path string, f *safetensors.File) error {
	if raw, ok := f.Metadata[metaConfig]; ok {
		var other Config
		if json.Unmarshal([]byte(raw), &other) == nil && other.Arch != m.Config.Arch {
			return fmt.Errorf("load %s: file holds a %s, the model is a %s", path, other.Arch, m.Config.Arch)
		}
	}
	legacy, err := legacyTracked(path, f)
	if err != nil {
		return err
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
	f32 := m.Store.Dtype() != tensor.Float64
	float := func(name string, shape tensor.Shape) (*safetensors.Tensor, error) {
		t, ok := f.Get(name)
		if !ok {
			return nil, fmt.Errorf("load %s: key %q is missing", path, name)
		}
		if !tensor.Shape(t.Shape).Eq(shape) || len(t.Shape) != len(shape) {
			return nil, fmt.Errorf("load %s: key %q has shape %v, the model needs %v", path, name, t.Shape, shape)
		}
		if t.DType != safetensors.F32 && t.DType != safetensors.F64 {
			return nil, fmt.Errorf("load %s: key %q has dtype %s, want F32 or F64", path, name, t.DType)
		}
		if f32 && t.DType == safetensors.F64 {
			for i, v := range t.F64 {
				if !math.IsInf(v, 0) && math.IsInf(float64(float32(v)), 0) {
					return nil, fmt.Errorf("load %s: key %q: element %d, %g, is beyond float32's range", path, name, i, v)
				}
			}
		}
		return t, nil
	}
	type copyJob struct {
		dst32 []float32
		dst64 []float64
		src   *safetensors.Tensor
	}
	var jobs []copyJob
	for _, p := range m.Store.Params() {
		t, err := float(p.Name, p.Value.Shape())
		if err != nil {
			return err
		}
		if f32 {
			jobs = append(jobs, copyJob{dst32: p.Value.Float32s(), src: t})
		} else {
			jobs = append(jobs, copyJob{dst64: p.Value.Float64s(), src: t})
		}
	}
	counts := map[string]int64{}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		shape := tensor.Shape{len(st.Mean)}
		mean, err := float(name+".running_mean", shape)
		if err != nil {
			return err
		}
		variance, err := float(name+".running_var", shape)
		if err != nil {
			return err
		}
		jobs = append(jobs, copyJob{dst64: st.Mean, src: mean}, copyJob{dst64: st.Var, src: variance})
		if legacy != nil {
			counts[name] = legacy[name]
			continue
		}
		key := name + trackedSuffix
		t, ok := f.Get(key)
		switch {
		case !ok:
			return fmt.Errorf("load %s: key %q is missing", path, key)
		case t.DType != safetensors.I64 || len(t.Shape) != 0:
			return fmt.Errorf("load %s: key %q is %s %v, want an I64 scalar (shape [])", path, key, t.DType, t.Shape)
		case t.I64[0] < 0:
			return fmt.Errorf("load %s: key %q counts %d batches", path, key, t.I64[0])
		}
		counts[name] = t.I64[0]
	}
	for _, j := range jobs {
		if j.dst32 != nil {
			copyInto(j.dst32, j.src)
		} else {
			copyInto(j.dst64, j.src)
		}
	}
	for name, n := range counts {
		st, _ := m.Store.LookupBN(name)
		st.Tracked = n
	}
	return nil
}

// copyInto converts t's values to dst's type (the caller checked length and range).
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
