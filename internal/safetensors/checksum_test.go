package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

func checksummed(t *testing.T) []byte {
	t.Helper()
	f := &File{Metadata: map[string]string{"format": "pt"}, Tensors: []Tensor{
		{Name: "a", DType: F32, Shape: []int{3}, F32: []float32{1, -2, 3.5}},
		{Name: "b", DType: F64, Shape: []int{2, 1}, F64: []float64{math.Pi, 0}},
	}}
	AddChecksums(f)
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestChecksumsCatchAFlippedBit: without a checksum a flipped bit in tensor data decodes silently; with one it is
// an error naming the tensor. Every single-bit flip of the data buffer is tried.
func TestChecksumsCatchAFlippedBit(t *testing.T) {
	data := checksummed(t)
	f, err := Decode("ok", data)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyChecksums("ok", f); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	start := 8 + int(binary.LittleEndian.Uint64(data))
	for i := start; i < len(data); i++ {
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(data)
			bad[i] ^= 1 << bit
			f, err := Decode("bad", bad)
			if err != nil {
				t.Fatalf("byte %d bit %d: decoding should still succeed: %v", i, bit, err)
			}
			err = VerifyChecksums("bad", f)
			want := `"b"` // F64 tensors come first in the data buffer
			if i-start >= 16 {
				want = `"a"`
			}
			if err == nil || !strings.Contains(err.Error(), "tensor "+want+" is corrupt") {
				t.Fatalf("byte %d bit %d: %v, want an error naming tensor %s", i, bit, err, want)
			}
		}
	}
}

// TestChecksumsMatchPayloadBytes: the recorded checksum is the CRC-32C of the bytes in the file, so other tools
// can check it.
func TestChecksumsMatchPayloadBytes(t *testing.T) {
	data := checksummed(t)
	f, _ := Decode("ok", data)
	start := 8 + int(binary.LittleEndian.Uint64(data))
	want := crc32.Checksum(data[start:start+16], crc32.MakeTable(crc32.Castagnoli))
	if !strings.Contains(f.Metadata[ChecksumKey], fmt.Sprintf(`"b":"%08x"`, want)) {
		t.Fatalf("metadata %s, want b = %08x", f.Metadata[ChecksumKey], want)
	}
}

func TestChecksumsOptionalAndComplete(t *testing.T) {
	plain := &File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{1}, F32: []float32{1}}}}
	if err := VerifyChecksums("plain", plain); err != nil {
		t.Fatalf("a file written by others (no checksums): %v", err)
	}
	for _, c := range []struct{ meta, want string }{
		{`{}`, `tensor "a" has no checksum`},
		{`{"a":"00000000","z":"00000000"}`, `lists tensor "z"`},
		{`[1]`, ChecksumKey},
	} {
		f := &File{Metadata: map[string]string{ChecksumKey: c.meta}, Tensors: plain.Tensors}
		if err := VerifyChecksums("f", f); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("metadata %s: %v, want an error containing %q", c.meta, err, c.want)
		}
	}
}
