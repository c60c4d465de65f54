package safetensors

import (
	"bytes"
	"encoding/binary"
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
