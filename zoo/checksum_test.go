package zoo

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// TestFlippedBitIsAnError: the safetensors format has no checksum, so a flipped bit in tensor data used to load
// silently. Save now records a CRC-32C per tensor and Load and LoadWeights check it, naming the tensor; a file
// without checksums (as PyTorch writes) still loads.
func TestFlippedBitIsAnError(t *testing.T) {
	m, err := New(cfg("vgg_mini", "tanh", layers.Swapped, [3]int{1, 8, 8}), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Decode(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Metadata[safetensors.ChecksumKey]; !ok {
		t.Fatal("Save wrote no checksums")
	}
	// Flip one bit in the middle of the data buffer (the mantissa of some weight: a value that still looks fine).
	start := 8 + int(binary.LittleEndian.Uint64(data))
	bad := append([]byte(nil), data...)
	bad[start+(len(data)-start)/2] ^= 0x02
	badPath := filepath.Join(t.TempDir(), "flipped.safetensors")
	if err := os.WriteFile(badPath, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(badPath); err == nil || !strings.Contains(err.Error(), "is corrupt") || !strings.Contains(err.Error(), badPath) {
		t.Fatalf("Load of a flipped bit: %v", err)
	}
	if err := m.LoadWeights(badPath); err == nil || !strings.Contains(err.Error(), "is corrupt") {
		t.Fatalf("LoadWeights of a flipped bit: %v", err)
	}
	// The same file without the checksum key (as another writer would produce it) loads.
	delete(f.Metadata, safetensors.ChecksumKey)
	plain := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := safetensors.WriteFile(plain, f); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(plain); err != nil {
		t.Fatalf("a file without checksums: %v", err)
	}
}
