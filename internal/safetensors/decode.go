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
	"sort"
	"strconv"
	"unicode/utf8"
)

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
