// Package safetensors reads and writes files in the Hugging Face safetensors
// format (https://github.com/huggingface/safetensors).
//
// A file is an 8-byte little-endian uint64 N, then N bytes of UTF-8 JSON
// header, then the data buffer. The header is a JSON object mapping each
// tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, with
// offsets relative to the start of the data buffer, plus an optional
// "__metadata__" object of string→string. Data is little-endian, row-major.
//
// Decode validates everything the specification requires (header size and
// shape, known dtypes, sizes matching shapes, offsets that cover the data
// buffer contiguously with no holes or overlaps, unique names) and never
// panics on any input. F32, F64 and I64 tensors can be decoded into values
// (I64 for PyTorch's integer buffers, such as BatchNorm's
// num_batches_tracked); other valid dtypes are reported with an error
// wrapping ErrUnsupportedDType. Encode produces files laid out as the
// reference implementation lays them out, so that Python's safetensors loads
// them.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// MaxHeaderSize is the largest header length, in bytes, that Decode accepts.
// It is the limit of the reference implementation (100 MB).
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the string→string metadata.
const metadataKey = "__metadata__"

// ErrUnsupportedDType is wrapped by errors about a tensor whose dtype is
// valid in the safetensors format but that this package cannot hold
// (anything but F32, F64 and I64).
var ErrUnsupportedDType = errors.New("unsupported dtype")

// DType is the element type of a tensor, spelled as in the safetensors
// header ("F32", "F64", ...).
type DType string

// The dtypes this package can read and write.
const (
	// F32 is IEEE 754 binary32, 4 bytes per element.
	F32 DType = "F32"
	// F64 is IEEE 754 binary64, 8 bytes per element.
	F64 DType = "F64"
	// I64 is a two's-complement signed integer, 8 bytes per element
	// (torch.int64, the dtype of BatchNorm's num_batches_tracked).
	I64 DType = "I64"
)

// dtypeBits gives the element size in bits of every dtype the format
// defines. Decode checks sizes and offsets for all of them before it reports
// a dtype other than F32, F64 or I64 as unsupported.
var dtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8,
	"F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// size returns the element size in bytes of a supported dtype, or 0.
func (d DType) size() int {
	switch d {
	case F32:
		return 4
	case F64, I64:
		return 8
	}
	return 0
}

// rank orders the supported dtypes as the reference implementation's Dtype
// enum does (F32 < F64 < I64: increasing alignment, then declaration order);
// Encode lays tensors out by descending rank, then by name.
func (d DType) rank() int {
	switch d {
	case F64:
		return 1
	case I64:
		return 2
	}
	return 0
}

// Tensor is one named tensor. Exactly the data slice matching DType is used;
// its length must equal the product of Shape (1 for a scalar, Shape == []).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	F32   []float32 // set when DType == F32
	F64   []float64 // set when DType == F64
	I64   []int64   // set when DType == I64
}

// File is the content of a safetensors file.
type File struct {
	// Metadata is the optional "__metadata__" map. Encode writes it only
	// when it is non-empty; Decode sets it only when the file has one.
	Metadata map[string]string
	// Tensors holds the tensors, sorted by name after Decode. Encode accepts
	// any order.
	Tensors []Tensor
}

// Get returns the tensor called name, if any. The returned pointer points
// into f.Tensors.
func (f *File) Get(name string) (*Tensor, bool) {
	if f == nil {
		return nil, false
	}
	ts := f.Tensors
	// Tensors are normally sorted by name: try a binary search first, and
	// fall back to a scan for a File built by hand in another order.
	i := sort.Search(len(ts), func(i int) bool { return ts[i].Name >= name })
	if i < len(ts) && ts[i].Name == name {
		return &ts[i], true
	}
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i], true
		}
	}
	return nil, false
}

// ---------------------------------------------------------------------------
// Encoding

// Encode writes f to w in the safetensors format: tensors ordered by dtype
// alignment (I64, then F64, then F32) and then by name, as the reference
// implementation orders them, data contiguous in that order, and the header
// padded with spaces so that the data buffer starts at a multiple of 8.
//
// It returns an error, before writing anything, when a tensor's data length
// differs from the product of its shape, a dimension is negative or the
// product overflows, its dtype is not F32, F64 or I64, the slice of another
// dtype is non-empty, two tensors share a name, a name is empty or equal to
// "__metadata__", or a name or metadata string is not valid UTF-8.
func Encode(w io.Writer, f *File) error {
	if f == nil {
		return errors.New("safetensors: encode: nil File")
	}
	header, order, err := encodeHeader(f)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	buf := make([]byte, 0, 32<<10)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("safetensors: encode: %w", err)
		}
		return nil
	}
	for _, i := range order {
		t := &f.Tensors[i]
		switch t.DType {
		case F32:
			for _, v := range t.F32 {
				if len(buf)+4 > cap(buf) {
					if err := flush(); err != nil {
						return err
					}
				}
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		case F64:
			for _, v := range t.F64 {
				if len(buf)+8 > cap(buf) {
					if err := flush(); err != nil {
						return err
					}
				}
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
		case I64:
			for _, v := range t.I64 {
				if len(buf)+8 > cap(buf) {
					if err := flush(); err != nil {
						return err
					}
				}
				buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
			}
		}
	}
	return flush()
}

// encodeHeader validates f and returns the padded header JSON and the order
// in which tensor data is laid out.
func encodeHeader(f *File) ([]byte, []int, error) {
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) {
			return nil, nil, fmt.Errorf("safetensors: encode: metadata key %q is not valid UTF-8", k)
		}
		if !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: encode: metadata value of key %q is not valid UTF-8", k)
		}
	}
	seen := make(map[string]bool, len(f.Tensors))
	nbytes := make([]uint64, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Name == "" {
			return nil, nil, fmt.Errorf("safetensors: encode: tensor %d has an empty name", i)
		}
		if t.Name == metadataKey {
			return nil, nil, fmt.Errorf("safetensors: encode: tensor name %q is reserved for metadata", t.Name)
		}
		if !utf8.ValidString(t.Name) {
			return nil, nil, fmt.Errorf("safetensors: encode: tensor name %q is not valid UTF-8", t.Name)
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("safetensors: encode: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		n := uint64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("safetensors: encode: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			hi, lo := bits.Mul64(n, uint64(d))
			if hi != 0 || lo > math.MaxInt {
				return nil, nil, fmt.Errorf("safetensors: encode: tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			n = lo
		}
		var have, other int
		switch t.DType {
		case F32:
			have, other = len(t.F32), len(t.F64)+len(t.I64)
		case F64:
			have, other = len(t.F64), len(t.F32)+len(t.I64)
		case I64:
			have, other = len(t.I64), len(t.F32)+len(t.F64)
		default:
			return nil, nil, fmt.Errorf("safetensors: encode: tensor %q: %w %q (only F32, F64 and I64 can be written)", t.Name, ErrUnsupportedDType, t.DType)
		}
		if uint64(have) != n {
			return nil, nil, fmt.Errorf("safetensors: encode: tensor %q: shape %v has %d elements but %s data has %d", t.Name, t.Shape, n, t.DType, have)
		}
		if other != 0 {
			return nil, nil, fmt.Errorf("safetensors: encode: tensor %q: dtype is %s but data of another dtype is set (%d values)", t.Name, t.DType, other)
		}
		nbytes[i] = n * uint64(t.DType.size())
	}

	// The reference implementation sorts by descending dtype (its enum is in
	// increasing alignment) and then by name, which keeps every tensor
	// aligned to its element size.
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ta, tb := &f.Tensors[order[a]], &f.Tensors[order[b]]
		if ra, rb := ta.DType.rank(), tb.DType.rank(); ra != rb {
			return ra > rb
		}
		return ta.Name < tb.Name
	})

	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	if len(f.Metadata) > 0 {
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		writeJSONString(&h, metadataKey)
		h.WriteString(":{")
		for j, k := range keys {
			if j > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, f.Metadata[k])
		}
		h.WriteByte('}')
		first = false
	}
	var offset uint64
	for _, i := range order {
		t := &f.Tensors[i]
		if !first {
			h.WriteByte(',')
		}
		first = false
		writeJSONString(&h, t.Name)
		h.WriteString(`:{"dtype":`)
		writeJSONString(&h, string(t.DType))
		h.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.Itoa(d))
		}
		end := offset + nbytes[i]
		if end < offset {
			return nil, nil, errors.New("safetensors: encode: total data size overflows")
		}
		h.WriteString(`],"data_offsets":[`)
		h.WriteString(strconv.FormatUint(offset, 10))
		h.WriteByte(',')
		h.WriteString(strconv.FormatUint(end, 10))
		h.WriteString("]}")
		offset = end
	}
	h.WriteByte('}')
	// Pad with spaces so that 8 + len(header) is a multiple of 8.
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: encode: header of %d bytes exceeds the %d-byte limit", h.Len(), MaxHeaderSize)
	}
	return h.Bytes(), order, nil
}

// writeJSONString writes s (valid UTF-8) as a JSON string, escaping only
// what JSON requires, as serde_json does: '"', '\\' and control characters.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// ---------------------------------------------------------------------------
// Decoding

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// parseObject parses raw as exactly one JSON object (surrounding whitespace
// allowed) and returns its members in order. Duplicate keys are an error.
func parseObject(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var members []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of key %q: %w", key, err)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		members = append(members, member{key, v})
	}
	if tok, err := dec.Token(); err != nil {
		return nil, err
	} else if d, ok := tok.(json.Delim); !ok || d != '}' {
		return nil, fmt.Errorf("malformed object")
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data")
		}
		return nil, fmt.Errorf("after the object: %w", err)
	}
	return members, nil
}

// parseUint parses a JSON value that must be a non-negative integer literal.
func parseUint(raw json.RawMessage) (uint64, error) {
	s := string(raw)
	if len(s) > 0 && s[0] == '-' {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return 0, fmt.Errorf("negative value %s", s)
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s is not a non-negative integer", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range", s)
	}
	return v, nil
}

// parseUintArray parses a JSON array of non-negative integers.
func parseUintArray(raw json.RawMessage) ([]uint64, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("not a JSON array: %s", abbrev(raw))
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	out := make([]uint64, len(elems))
	for i, e := range elems {
		v, err := parseUint(e)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// parseString parses a JSON value that must be a string.
func parseString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", fmt.Errorf("not a JSON string: %s", abbrev(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// abbrev shortens a JSON value for an error message.
func abbrev(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// tensorInfo is one tensor entry of a header, validated for its own fields.
type tensorInfo struct {
	name       string
	dtype      string
	shape      []uint64
	begin, end uint64
}

// parseTensorInfo parses the header entry of tensor name.
func parseTensorInfo(name string, raw json.RawMessage) (tensorInfo, error) {
	ti := tensorInfo{name: name}
	if len(raw) == 0 || raw[0] != '{' {
		return ti, fmt.Errorf("entry is not a JSON object: %s", abbrev(raw))
	}
	members, err := parseObject(raw)
	if err != nil {
		return ti, err
	}
	var haveDType, haveShape, haveOffsets bool
	for _, m := range members {
		switch m.key {
		case "dtype":
			s, err := parseString(m.value)
			if err != nil {
				return ti, fmt.Errorf("dtype: %w", err)
			}
			ti.dtype, haveDType = s, true
		case "shape":
			sh, err := parseUintArray(m.value)
			if err != nil {
				return ti, fmt.Errorf("shape: %w", err)
			}
			ti.shape, haveShape = sh, true
		case "data_offsets":
			off, err := parseUintArray(m.value)
			if err != nil {
				return ti, fmt.Errorf("data_offsets: %w", err)
			}
			if len(off) != 2 {
				return ti, fmt.Errorf("data_offsets must have 2 elements, got %d", len(off))
			}
			ti.begin, ti.end, haveOffsets = off[0], off[1], true
		default:
			// Unknown fields are ignored, as the reference implementation
			// ignores them.
		}
	}
	switch {
	case !haveDType:
		return ti, errors.New(`missing "dtype"`)
	case !haveShape:
		return ti, errors.New(`missing "shape"`)
	case !haveOffsets:
		return ti, errors.New(`missing "data_offsets"`)
	}
	if _, ok := dtypeBits[ti.dtype]; !ok {
		return ti, fmt.Errorf("unknown dtype %q", ti.dtype)
	}
	return ti, nil
}

// Decode parses a safetensors file held in memory. name (the path, say)
// prefixes every error message; errors about one tensor or metadata entry
// name its key. The returned tensors are sorted by name and do not alias
// data.
func Decode(name string, data []byte) (*File, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: "+format, append([]any{name}, args...)...)
	}
	if len(data) < 8 {
		return nil, errf("file is %d bytes long, too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return nil, errf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, errf("header length %d exceeds the %d bytes that follow it in the file", n, len(data)-8)
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	if !utf8.Valid(header) {
		return nil, errf("header is not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, errf("header is not a JSON object: it must start with '{', got %q", abbrev(header))
	}
	members, err := parseObject(header)
	if err != nil {
		return nil, errf("invalid header JSON: %v", err)
	}

	out := &File{}
	infos := make([]tensorInfo, 0, len(members))
	for _, m := range members {
		if m.key == metadataKey {
			md, err := parseMetadata(m.value)
			if err != nil {
				return nil, errf("%s: %v", metadataKey, err)
			}
			out.Metadata = md
			continue
		}
		if m.key == "" {
			return nil, errf("tensor with an empty name")
		}
		ti, err := parseTensorInfo(m.key, m.value)
		if err != nil {
			return nil, errf("tensor %q: %v", m.key, err)
		}
		infos = append(infos, ti)
	}

	// Each tensor's offsets must be ordered, within the buffer, and span
	// exactly product(shape) * dtype size bytes.
	bufLen := uint64(len(buf))
	for _, ti := range infos {
		if ti.end < ti.begin {
			return nil, errf("tensor %q: data_offsets [%d, %d] end before they begin", ti.name, ti.begin, ti.end)
		}
		if ti.end > bufLen {
			return nil, errf("tensor %q: data_offsets [%d, %d] are out of range of the %d-byte data buffer", ti.name, ti.begin, ti.end, bufLen)
		}
		nbits := dtypeBits[ti.dtype]
		count := uint64(1)
		for _, d := range ti.shape {
			hi, lo := bits.Mul64(count, d)
			if hi != 0 {
				return nil, errf("tensor %q: element count of shape %v overflows", ti.name, ti.shape)
			}
			count = lo
		}
		hi, total := bits.Mul64(count, nbits)
		if hi != 0 {
			return nil, errf("tensor %q: byte size of shape %v overflows", ti.name, ti.shape)
		}
		if total%8 != 0 {
			return nil, errf("tensor %q: %d elements of %s do not fill whole bytes", ti.name, count, ti.dtype)
		}
		if want := total / 8; ti.end-ti.begin != want {
			return nil, errf("tensor %q: data_offsets [%d, %d] span %d bytes but dtype %s and shape %v need %d",
				ti.name, ti.begin, ti.end, ti.end-ti.begin, ti.dtype, ti.shape, want)
		}
	}

	// Together the tensors must cover the buffer contiguously: no holes, no
	// overlaps, nothing left over.
	byOffset := make([]int, len(infos))
	for i := range byOffset {
		byOffset[i] = i
	}
	sort.SliceStable(byOffset, func(a, b int) bool {
		ia, ib := &infos[byOffset[a]], &infos[byOffset[b]]
		if ia.begin != ib.begin {
			return ia.begin < ib.begin
		}
		return ia.end < ib.end
	})
	var pos uint64
	prev := ""
	for _, i := range byOffset {
		ti := &infos[i]
		switch {
		case ti.begin > pos && prev == "":
			return nil, errf("tensor %q: data_offsets [%d, %d] leave a hole: bytes [%d, %d) of the data buffer belong to no tensor",
				ti.name, ti.begin, ti.end, pos, ti.begin)
		case ti.begin > pos:
			return nil, errf("tensor %q: data_offsets [%d, %d] leave a hole after tensor %q, which ends at %d",
				ti.name, ti.begin, ti.end, prev, pos)
		case ti.begin < pos:
			return nil, errf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d",
				ti.name, ti.begin, ti.end, prev, pos)
		}
		if ti.end > ti.begin || prev == "" {
			prev = ti.name
		}
		pos = ti.end
	}
	if pos != bufLen {
		return nil, errf("tensors cover %d bytes but the data buffer has %d: the trailing bytes belong to no tensor", pos, bufLen)
	}

	out.Tensors = make([]Tensor, 0, len(infos))
	for _, ti := range infos {
		dt := DType(ti.dtype)
		if dt.size() == 0 {
			return nil, errf("tensor %q: %w %s (only F32, F64 and I64 can be read)", ti.name, ErrUnsupportedDType, ti.dtype)
		}
		shape := make([]int, len(ti.shape))
		for j, d := range ti.shape {
			if d > math.MaxInt {
				return nil, errf("tensor %q: dimension %d of shape %v is too large", ti.name, d, ti.shape)
			}
			shape[j] = int(d)
		}
		raw := buf[ti.begin:ti.end]
		t := Tensor{Name: ti.name, DType: dt, Shape: shape}
		switch dt {
		case F32:
			t.F32 = make([]float32, len(raw)/4)
			for j := range t.F32 {
				t.F32[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
		case F64:
			t.F64 = make([]float64, len(raw)/8)
			for j := range t.F64 {
				t.F64[j] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
			}
		case I64:
			t.I64 = make([]int64, len(raw)/8)
			for j := range t.I64 {
				t.I64[j] = int64(binary.LittleEndian.Uint64(raw[8*j:]))
			}
		}
		out.Tensors = append(out.Tensors, t)
	}
	sort.Slice(out.Tensors, func(a, b int) bool { return out.Tensors[a].Name < out.Tensors[b].Name })
	return out, nil
}

// parseMetadata parses the "__metadata__" value: null or an object whose
// values are all strings.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object of strings, got %s", abbrev(raw))
	}
	members, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	md := make(map[string]string, len(members))
	for _, m := range members {
		s, err := parseString(m.value)
		if err != nil {
			return nil, fmt.Errorf("key %q: value must be a string: %v", m.key, err)
		}
		md[m.key] = s
	}
	return md, nil
}

// ---------------------------------------------------------------------------
// Files

// WriteFile writes f to path atomically: it encodes into a temporary file in
// the same directory, syncs it, renames it over path and syncs the
// directory. On error, any previous file at path is untouched and the
// temporary file is removed. The new file gets the previous file's
// permissions, or 0644.
func WriteFile(path string, f *File) error {
	if f == nil {
		return fmt.Errorf("safetensors: write %s: nil File", path)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	if err := atomicfile.Write(path, buf.Bytes()); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// ReadFile reads and decodes the safetensors file at path. Errors name the
// path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return Decode(path, data)
}
