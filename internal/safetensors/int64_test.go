package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// int64File mixes the three dtypes as a PyTorch state dict with BatchNorm does: F32 (or F64) weights and I64
// num_batches_tracked scalars.
func int64File() *File {
	return &File{Tensors: []Tensor{
		{Name: "bn.weight", DType: F32, Shape: []int{2}, F32: []float32{1, -1}},
		{Name: "bn.num_batches_tracked", DType: I64, Shape: []int{}, I64: []int64{7}},
		{Name: "extremes", DType: I64, Shape: []int{3}, I64: []int64{math.MinInt64, -1, math.MaxInt64}},
		{Name: "w64", DType: F64, Shape: []int{1}, F64: []float64{0.5}},
	}}
}

// TestInt64RoundTrip: I64 tensors (scalars included) decode to the values written, two's complement and little
// endian, and re-encode to the same bytes.
func TestInt64RoundTrip(t *testing.T) {
	in := int64File()
	data := encode(t, in)
	out, err := Decode("mem", data)
	if err != nil {
		t.Fatal(err)
	}
	if d := sameTensors(in, out); d != "" {
		t.Fatal(d)
	}
	if again := encode(t, out); !bytes.Equal(again, data) {
		t.Error("re-encoding changed the bytes")
	}
	// -1 is eight 0xff bytes right after MinInt64 (0x00…0x80) in the data buffer.
	start := 8 + int(binary.LittleEndian.Uint64(data))
	x, _ := out.Get("extremes")
	if x == nil || x.I64[0] != math.MinInt64 {
		t.Fatalf("extremes = %v", x)
	}
	if !bytes.Contains(data[start:], append([]byte{0, 0, 0, 0, 0, 0, 0, 0x80}, bytes.Repeat([]byte{0xff}, 8)...)) {
		t.Error("MinInt64, -1 not laid out as little-endian two's complement")
	}
}

// TestInt64Layout: tensors are laid out as the reference implementation orders them — its Dtype enum increases
// F32 < F64 < I64 and it sorts by descending dtype, then name — so I64 tensors come first.
func TestInt64Layout(t *testing.T) {
	data := encode(t, int64File())
	n := binary.LittleEndian.Uint64(data)
	header := string(data[8 : 8+n])
	want := `{"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
		`"extremes":{"dtype":"I64","shape":[3],"data_offsets":[8,32]},` +
		`"w64":{"dtype":"F64","shape":[1],"data_offsets":[32,40]},` +
		`"bn.weight":{"dtype":"F32","shape":[2],"data_offsets":[40,48]}}`
	if strings.TrimRight(header, " ") != want {
		t.Fatalf("header\n%s\nwant\n%s", header, want)
	}
}

// TestInt64Checksums: the CRC-32C covers I64 payloads too, so a flipped bit in a count is caught and names it.
func TestInt64Checksums(t *testing.T) {
	f := int64File()
	AddChecksums(f)
	data := encode(t, f)
	start := 8 + int(binary.LittleEndian.Uint64(data))
	data[start] ^= 1 // bn.num_batches_tracked comes first
	g, err := Decode("flipped", data)
	if err != nil {
		t.Fatal(err)
	}
	if g.Tensors[0].I64[0] != 6 {
		t.Fatalf("flip gave %d, want 6", g.Tensors[0].I64[0])
	}
	if err := VerifyChecksums("flipped", g); err == nil || !strings.Contains(err.Error(), `"bn.num_batches_tracked" is corrupt`) {
		t.Fatalf("VerifyChecksums: %v", err)
	}
}

// TestInt64EncodeErrors: an I64 tensor must carry exactly its I64 data.
func TestInt64EncodeErrors(t *testing.T) {
	for name, tt := range map[string]Tensor{
		"no data":    {Name: "n", DType: I64, Shape: []int{}},
		"float data": {Name: "n", DType: I64, Shape: []int{1}, I64: []int64{1}, F32: []float32{1}},
		"int on F64": {Name: "n", DType: F64, Shape: []int{1}, F64: []float64{1}, I64: []int64{1}},
	} {
		if err := Encode(&bytes.Buffer{}, &File{Tensors: []Tensor{tt}}); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
}
