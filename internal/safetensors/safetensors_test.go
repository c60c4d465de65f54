package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleFile has F32 and F64 tensors, a scalar, empty tensors and awkward
// values (-0, ±Inf, NaN payloads, subnormals).
func sampleFile() *File {
	return &File{
		Metadata: map[string]string{"format": "pt", "note": "quote \" backslash \\ newline \n tab \t ctrl \x01 é ☃"},
		Tensors: []Tensor{
			{Name: "w", DType: F32, Shape: []int{2, 3}, F32: []float32{
				1, -2.5, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
				math.Float32frombits(1), // smallest subnormal
			}},
			{Name: "b", DType: F64, Shape: []int{3}, F64: []float64{
				math.Float64frombits(1), math.Copysign(0, -1), math.Float64frombits(0x7ff8_0000_0000_0abc), // NaN with payload
			}},
			{Name: "scalar", DType: F32, Shape: []int{}, F32: []float32{math.Float32frombits(0x7fc0_1234)}},
			{Name: "scalar64", DType: F64, Shape: nil, F64: []float64{math.Pi}},
			{Name: "empty", DType: F32, Shape: []int{4, 0, 2}, F32: []float32{}},
			{Name: "empty64", DType: F64, Shape: []int{0}, F64: nil},
			{Name: "odd", DType: F32, Shape: []int{1, 1, 3}, F32: []float32{math.MaxFloat32, math.SmallestNonzeroFloat32, -1e-40}},
		},
	}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, f); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

// sameTensors reports whether a and b hold the same tensors (compared by
// name, with exact bits) and the same metadata (nil and empty alike).
func sameTensors(a, b *File) string {
	if len(a.Metadata) != len(b.Metadata) {
		return "metadata differ"
	}
	for k, v := range a.Metadata {
		if w, ok := b.Metadata[k]; !ok || w != v {
			return "metadata key " + k + " differs"
		}
	}
	if len(a.Tensors) != len(b.Tensors) {
		return "tensor counts differ"
	}
	for _, ta := range a.Tensors {
		tb, ok := b.Get(ta.Name)
		if !ok {
			return "tensor " + ta.Name + " missing"
		}
		if ta.DType != tb.DType || len(ta.Shape) != len(tb.Shape) {
			return "tensor " + ta.Name + " dtype or rank differs"
		}
		for i := range ta.Shape {
			if ta.Shape[i] != tb.Shape[i] {
				return "tensor " + ta.Name + " shape differs"
			}
		}
		if len(ta.F32) != len(tb.F32) || len(ta.F64) != len(tb.F64) || len(ta.I64) != len(tb.I64) {
			return "tensor " + ta.Name + " length differs"
		}
		for i := range ta.I64 {
			if ta.I64[i] != tb.I64[i] {
				return "tensor " + ta.Name + " I64 values differ"
			}
		}
		for i := range ta.F32 {
			if math.Float32bits(ta.F32[i]) != math.Float32bits(tb.F32[i]) {
				return "tensor " + ta.Name + " F32 bits differ"
			}
		}
		for i := range ta.F64 {
			if math.Float64bits(ta.F64[i]) != math.Float64bits(tb.F64[i]) {
				return "tensor " + ta.Name + " F64 bits differ"
			}
		}
	}
	return ""
}

func TestRoundTrip(t *testing.T) {
	in := sampleFile()
	data := encode(t, in)
	out, err := Decode("mem", data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d := sameTensors(in, out); d != "" {
		t.Fatal(d)
	}
	// Decoded tensors are sorted by name; scalars have a non-nil empty shape.
	for i := 1; i < len(out.Tensors); i++ {
		if out.Tensors[i-1].Name >= out.Tensors[i].Name {
			t.Errorf("tensors not sorted: %q before %q", out.Tensors[i-1].Name, out.Tensors[i].Name)
		}
	}
	if s, _ := out.Get("scalar64"); s == nil || s.Shape == nil || len(s.Shape) != 0 {
		t.Errorf("scalar64 shape = %#v, want []int{}", s)
	}
	// Encoding is deterministic and re-encoding the decoded file is identical.
	if again := encode(t, out); !bytes.Equal(again, data) {
		t.Error("re-encoding the decoded file changed the bytes")
	}
	// Layout: the data buffer starts at a multiple of 8, F64 before F32.
	n := binary.LittleEndian.Uint64(data)
	if (8+n)%8 != 0 {
		t.Errorf("8+N = %d is not a multiple of 8", 8+n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	var b struct {
		Offsets [2]int `json:"data_offsets"`
	}
	json.Unmarshal(hdr["b"], &b)
	if b.Offsets != [2]int{0, 24} {
		t.Errorf("F64 tensor b at %v, want [0 24] (F64 tensors first)", b.Offsets)
	}
}

func TestGet(t *testing.T) {
	f := &File{Tensors: []Tensor{{Name: "z"}, {Name: "a"}, {Name: "m"}}} // not sorted
	for _, name := range []string{"z", "a", "m"} {
		if tt, ok := f.Get(name); !ok || tt.Name != name {
			t.Errorf("Get(%q) = %v, %v", name, tt, ok)
		}
	}
	if _, ok := f.Get("nope"); ok {
		t.Error("Get(nope) found something")
	}
	var nilFile *File
	if _, ok := nilFile.Get("a"); ok {
		t.Error("nil File Get found something")
	}
	// Get returns a pointer into the slice.
	tt, _ := f.Get("m")
	tt.DType = F64
	if f.Tensors[2].DType != F64 {
		t.Error("Get does not point into Tensors")
	}
}

// TestGolden checks the exact bytes of a small file, written out by hand
// from the specification.
func TestGolden(t *testing.T) {
	f := &File{
		Metadata: map[string]string{"k": "v"},
		Tensors:  []Tensor{{Name: "a", DType: F32, Shape: []int{2}, F32: []float32{1, 2}}},
	}
	// Header: 79 bytes of JSON + 1 space of padding = 80 = 0x50, so the data
	// buffer starts at 8 + 80 = 88, a multiple of 8.
	var want []byte
	want = append(want, 0x50, 0, 0, 0, 0, 0, 0, 0)
	want = append(want, `{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`...)
	want = append(want, ' ')
	want = append(want,
		0x00, 0x00, 0x80, 0x3f, // 1.0f = 0x3f800000, little-endian
		0x00, 0x00, 0x00, 0x40, // 2.0f = 0x40000000
	)
	got := encode(t, f)
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode =\n%q\nwant\n%q", got, want)
	}
	back, err := Decode("golden", want)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(f, back); d != "" {
		t.Fatal(d)
	}
}

// TestReferenceVectors checks byte-exact agreement with the outputs the
// reference (Rust) implementation's own tests expect from its serializer.
func TestReferenceVectors(t *testing.T) {
	le := func(n int) []byte { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, uint64(n)); return b }
	data := []byte{0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40} // 0..5 as F32
	vals := []float32{0, 1, 2, 3, 4, 5}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name string
		f    *File
		want []byte
	}{
		{"attn.0", &File{Tensors: []Tensor{{Name: "attn.0", DType: F32, Shape: []int{1, 2, 3}, F32: vals}}},
			cat(le(64), []byte(`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`), data)},
		{"attn0 padded", &File{Tensors: []Tensor{{Name: "attn0", DType: F32, Shape: []int{1, 1, 2, 3}, F32: vals}}},
			cat(le(72), []byte(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `), data)},
		{"empty", &File{}, cat(le(8), []byte(`{}      `))},
		{"empty with metadata", &File{Metadata: map[string]string{"framework": "pt"}},
			cat(le(40), []byte(`{"__metadata__":{"framework":"pt"}}     `))},
	}
	for _, c := range cases {
		got := encode(t, c.f)
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: Encode =\n%q\nwant\n%q", c.name, got, c.want)
		}
		back, err := Decode(c.name, c.want)
		if err != nil {
			t.Errorf("%s: Decode: %v", c.name, err)
			continue
		}
		if d := sameTensors(c.f, back); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
	}
}

// build assembles a file from a header string and a data buffer.
func build(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestDecodeAccepts(t *testing.T) {
	eight := make([]byte, 8)
	cases := map[string][]byte{
		"space padding": build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}      `, eight),
		"any order, metadata last, unknown field ignored": build(
			`{"b":{"data_offsets":[4,8],"shape":[],"dtype":"F32"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1},"__metadata__":{"k":"v"}}`, eight),
		"null metadata":            build(`{"__metadata__":null,"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, eight),
		"zero-size tensors":        build(`{"z":{"dtype":"F32","shape":[0,5],"data_offsets":[8,8]},"e":{"dtype":"F64","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, eight),
		"escaped name":             build(`{"\u00e9\n":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`, eight),
		"no tensors, empty buffer": build(`{}`, nil),
	}
	for name, data := range cases {
		f, err := Decode(name, data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := Decode(name, encode(t, f)); err != nil {
			t.Errorf("%s: re-encoded: %v", name, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	f32 := `{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	eight := make([]byte, 8)
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	big := make([]byte, 8)
	binary.LittleEndian.PutUint64(big, 100)
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error message
	}{
		{"short", []byte{1, 2, 3}, []string{"short", "3 bytes"}},
		{"empty file", nil, []string{"too short"}},
		{"header longer than file", append(big, "{}"...), []string{"header length 100", "exceeds"}},
		{"header over limit", append(huge, "{}"...), []string{"exceeds the 100000000-byte limit"}},
		{"invalid JSON", build(`{"a":`, nil), []string{"invalid header JSON"}},
		{"trailing garbage", build(`{} x`, nil), []string{"invalid header JSON"}},
		{"two objects", build(`{}{}`, nil), []string{"invalid header JSON"}},
		{"non-object header", build(`[1,2]`, nil), []string{"not a JSON object"}},
		{"leading space", build(` {}`, nil), []string{"must start with '{'"}},
		{"empty header", build(``, nil), []string{"not a JSON object"}},
		{"invalid UTF-8", build("{\"\xff\":1}", nil), []string{"UTF-8"}},
		{"unknown dtype", build(`{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, eight), []string{`"w"`, `unknown dtype "F31"`}},
		{"dtype not string", build(`{"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "dtype"}},
		{"unsupported dtype", build(`{"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "unsupported dtype I32"}},
		{"missing shape", build(`{"w":{"dtype":"F32","data_offsets":[0,8]}}`, eight), []string{`"w"`, `missing "shape"`}},
		{"missing offsets", build(`{"w":{"dtype":"F32","shape":[2]}}`, eight), []string{`"w"`, `missing "data_offsets"`}},
		{"entry not object", build(`{"w":[1]}`, eight), []string{`"w"`, "not a JSON object"}},
		{"offsets out of range", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, eight), []string{`"w"`, "out of range"}},
		{"offsets reversed", build(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), []string{`"w"`, "end before"}},
		{"three offsets", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`, eight), []string{`"w"`, "2 elements"}},
		{"size mismatch", build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "span 8 bytes", "need 12"}},
		{"size mismatch F64", build(`{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "need 16"}},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), []string{`"b"`, `overlap tensor "a"`}},
		{"hole in the middle", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), []string{`"b"`, "hole", `"a"`}},
		{"hole at start", build(`{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), []string{`"b"`, "hole", "[0, 4)"}},
		{"trailing bytes", build(`{"a":`+f32+`}`, make([]byte, 12)), []string{"cover 8 bytes", "12"}},
		{"data but no tensors", build(`{}`, eight), []string{"cover 0 bytes", "8"}},
		{"negative dim", build(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "shape", "negative"}},
		{"fractional dim", build(`{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "not a non-negative integer"}},
		{"string dim", build(`{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "not a non-negative integer"}},
		{"null shape", build(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, eight), []string{`"w"`, "not a JSON array"}},
		{"negative offset", build(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}}`, eight), []string{`"w"`, "data_offsets", "negative"}},
		{"dim beyond uint64", build(`{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "out of range"}},
		{"shape overflow", build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "overflows"}},
		{"byte size overflow", build(`{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, eight), []string{`"w"`, "overflows"}},
		{"huge zero-size dim", build(`{"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}`, nil), []string{`"w"`, "too large"}},
		{"duplicate name", build(`{"a":`+f32+`,"a":`+f32+`}`, eight), []string{`duplicate key "a"`}},
		{"duplicate field", build(`{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), []string{`"a"`, `duplicate key "dtype"`}},
		{"empty name", build(`{"":`+f32+`}`, eight), []string{"empty name"}},
		{"metadata not object", build(`{"__metadata__":"x"}`, nil), []string{"__metadata__", "must be a JSON object"}},
		{"metadata number value", build(`{"__metadata__":{"k":1}}`, nil), []string{"__metadata__", `key "k"`, "must be a string"}},
		{"metadata nested value", build(`{"__metadata__":{"k":{"a":"b"}}}`, nil), []string{"__metadata__", `key "k"`, "must be a string"}},
		{"metadata null value", build(`{"__metadata__":{"k":null}}`, nil), []string{"__metadata__", `key "k"`, "must be a string"}},
		{"metadata duplicate key", build(`{"__metadata__":{"k":"a","k":"b"}}`, nil), []string{"__metadata__", `duplicate key "k"`}},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, nil), []string{`duplicate key "__metadata__"`}},
	}
	for _, c := range cases {
		_, err := Decode("file.st", c.data)
		if err == nil {
			t.Errorf("%s: Decode succeeded, want error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "safetensors: file.st: ") {
			t.Errorf("%s: error %q does not name the file", c.name, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: error %q does not contain %q", c.name, msg, w)
			}
		}
	}
	_, err := Decode("x", build(`{"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}`, eight))
	if !errors.Is(err, ErrUnsupportedDType) {
		t.Errorf("BF16: error %v does not wrap ErrUnsupportedDType", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := func() Tensor { return Tensor{Name: "t", DType: F32, Shape: []int{2}, F32: []float32{1, 2}} }
	mod := func(fn func(*Tensor)) *File { t := ok(); fn(&t); return &File{Tensors: []Tensor{t}} }
	cases := []struct {
		name string
		f    *File
		want string
	}{
		{"nil", nil, "nil File"},
		{"length mismatch", mod(func(t *Tensor) { t.Shape = []int{3} }), "has 3 elements but F32 data has 2"},
		{"scalar without value", mod(func(t *Tensor) { t.Shape = nil; t.F32 = nil }), "has 1 elements but F32 data has 0"},
		{"unsupported dtype", mod(func(t *Tensor) { t.DType = "I32" }), "unsupported dtype"},
		{"empty dtype", mod(func(t *Tensor) { t.DType = "" }), "unsupported dtype"},
		{"other data set", mod(func(t *Tensor) { t.F64 = []float64{1} }), "other dtype"},
		{"negative dim", mod(func(t *Tensor) { t.Shape = []int{-1, -2} }), "negative dimension"},
		{"overflow", mod(func(t *Tensor) { t.Shape = []int{math.MaxInt, 3} }), "overflows"},
		{"empty name", mod(func(t *Tensor) { t.Name = "" }), "empty name"},
		{"reserved name", mod(func(t *Tensor) { t.Name = "__metadata__" }), "reserved"},
		{"invalid UTF-8 name", mod(func(t *Tensor) { t.Name = "\xff" }), "UTF-8"},
		{"duplicate", &File{Tensors: []Tensor{ok(), ok()}}, `duplicate tensor name "t"`},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, "UTF-8"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		err := Encode(&b, c.f)
		if err == nil {
			t.Errorf("%s: Encode succeeded, want error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
		if b.Len() != 0 {
			t.Errorf("%s: Encode wrote %d bytes before failing", c.name, b.Len())
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n <= 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	big := &File{Tensors: []Tensor{{Name: "x", DType: F64, Shape: []int{10000}, F64: make([]float64, 10000)}}}
	for n := 0; n < 4; n++ {
		if err := Encode(&failWriter{n: n}, big); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d writes: err = %v, want disk full", n, err)
		}
	}
}

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	in := sampleFile()
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(in, out); d != "" {
		t.Fatal(d)
	}
	// Overwrite with other content.
	in2 := &File{Tensors: []Tensor{{Name: "only", DType: F64, Shape: []int{1}, F64: []float64{7}}}}
	if err := WriteFile(path, in2); err != nil {
		t.Fatal(err)
	}
	out, err = ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(in2, out); d != "" {
		t.Fatal(d)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, %v; want 0644", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "model.safetensors" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only model.safetensors (no temp file left)", names)
	}

	// A failed write (invalid File) leaves the old file and no temp file.
	before, _ := os.ReadFile(path)
	bad := &File{Tensors: []Tensor{{Name: "x", DType: F32, Shape: []int{5}}}}
	if err := WriteFile(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile(bad) = %v, want an error naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed WriteFile changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("failed WriteFile left %d entries", len(entries))
	}

	// Writing into a directory that does not exist.
	missing := filepath.Join(dir, "no", "such", "dir", "m.safetensors")
	if err := WriteFile(missing, in); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("WriteFile(missing dir) = %v, want an error naming %s", err, missing)
	}

	// Reading errors name the path.
	if _, err := ReadFile(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("ReadFile(missing) = %v, want an error naming %s", err, missing)
	}
	junk := filepath.Join(dir, "junk.safetensors")
	os.WriteFile(junk, []byte("not a safetensors file"), 0o644)
	if _, err := ReadFile(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("ReadFile(junk) = %v, want an error naming %s", err, junk)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sampleFile()))
	f.Add(encode(f, &File{}))
	f.Add(encode(f, &File{Metadata: map[string]string{"a": "b"}}))
	f.Add(encode(f, &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, F32: []float32{1, 2}}}}))
	eight := make([]byte, 8)
	f.Add(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}      `, eight))
	f.Add(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight))
	f.Add(build(`{"a":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}`, nil))
	f.Add(build(`{"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}}`, eight))
	f.Add(build(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, []byte{0}))
	f.Add(build(`{"__metadata__":{"k":1}}`, nil))
	f.Add(build(`{"a":`, nil))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'})
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode("fuzz", data)
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := Encode(&b, got); err != nil {
			t.Fatalf("Encode of a decoded file failed: %v", err)
		}
		again, err := Decode("fuzz-again", b.Bytes())
		if err != nil {
			t.Fatalf("re-decoding failed: %v", err)
		}
		if d := sameTensors(got, again); d != "" {
			t.Fatalf("round trip changed the file: %s", d)
		}
	})
}

// pythonScript loads a file with Python's safetensors (no numpy or torch
// needed) and prints its tensors and metadata as JSON, data as hex.
const pythonScript = `
import json, sys, safetensors
path = sys.argv[1]
with open(path, "rb") as fh:
    items = safetensors.deserialize(fh.read())
out = {"tensors": {}, "metadata": None}
for name, t in items:
    out["tensors"][name] = {"dtype": str(t["dtype"]), "shape": list(t["shape"]), "data": bytes(t["data"]).hex()}
try:
    with safetensors.safe_open(path, framework="numpy") as f:
        out["metadata"] = f.metadata()
except Exception as e:
    if "SafetensorError" in type(e).__name__:
        raise
    out["metadata_skipped"] = repr(e)
print(json.dumps(out))
`

// TestPythonInterop writes a file and loads it with Python's safetensors
// package, when some python3 on this machine has it.
func TestPythonInterop(t *testing.T) {
	var python string
	var tried []string
	for _, cand := range []string{"python3", "/usr/bin/python3"} {
		p, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		tried = append(tried, p)
		if exec.Command(p, "-c", "import safetensors").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skipf("no python3 with the safetensors module (tried %v)", tried)
	}
	path := filepath.Join(t.TempDir(), "interop.safetensors")
	in := sampleFile()
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	outb, err := exec.Command(python, "-c", pythonScript, path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("python failed: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var res struct {
		Tensors map[string]struct {
			DType string `json:"dtype"`
			Shape []int  `json:"shape"`
			Data  string `json:"data"`
		} `json:"tensors"`
		Metadata        map[string]string `json:"metadata"`
		MetadataSkipped string            `json:"metadata_skipped"`
	}
	if err := json.Unmarshal(outb, &res); err != nil {
		t.Fatalf("python output %q: %v", outb, err)
	}
	if len(res.Tensors) != len(in.Tensors) {
		t.Fatalf("python sees %d tensors, want %d", len(res.Tensors), len(in.Tensors))
	}
	for _, tt := range in.Tensors {
		p, ok := res.Tensors[tt.Name]
		if !ok {
			t.Errorf("python lacks tensor %q", tt.Name)
			continue
		}
		var want []byte
		for _, v := range tt.F32 {
			want = binary.LittleEndian.AppendUint32(want, math.Float32bits(v))
		}
		for _, v := range tt.F64 {
			want = binary.LittleEndian.AppendUint64(want, math.Float64bits(v))
		}
		shape := tt.Shape
		if shape == nil {
			shape = []int{}
		}
		if p.DType != string(tt.DType) || !reflect.DeepEqual(p.Shape, shape) || p.Data != hexString(want) {
			t.Errorf("tensor %q: python sees %s %v %s, want %s %v %s", tt.Name, p.DType, p.Shape, p.Data, tt.DType, shape, hexString(want))
		}
	}
	if res.MetadataSkipped != "" {
		t.Logf("metadata not checked: %s", res.MetadataSkipped)
	} else if !reflect.DeepEqual(res.Metadata, in.Metadata) {
		t.Errorf("python metadata = %v, want %v", res.Metadata, in.Metadata)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&0xf])
	}
	return string(s)
}
