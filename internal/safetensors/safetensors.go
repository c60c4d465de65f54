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
	"errors"
	"fmt"
	"os"
	"sort"

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
