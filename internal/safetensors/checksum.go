package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"math"
	"sort"
)

// ChecksumKey is the metadata key under which AddChecksums records the CRC-32C (Castagnoli) of every tensor's
// payload, as a JSON object of tensor name → 8 hex digits. The format itself has no checksum, so a flipped bit in
// tensor data would otherwise load silently; files without the key (written by others) still load.
const ChecksumKey = "bnzoo.crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// payloadCRC is the CRC-32C of a tensor's little-endian bytes, exactly as Encode lays them out.
func payloadCRC(t *Tensor) uint32 {
	var crc uint32
	var buf [8 * 512]byte
	switch t.DType {
	case F32:
		for i := 0; i < len(t.F32); i += 1024 {
			chunk := t.F32[i:min(i+1024, len(t.F32))]
			for j, v := range chunk {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			crc = crc32.Update(crc, castagnoli, buf[:4*len(chunk)])
		}
	case F64:
		for i := 0; i < len(t.F64); i += 512 {
			chunk := t.F64[i:min(i+512, len(t.F64))]
			for j, v := range chunk {
				binary.LittleEndian.PutUint64(buf[8*j:], math.Float64bits(v))
			}
			crc = crc32.Update(crc, castagnoli, buf[:8*len(chunk)])
		}
	case I64:
		for i := 0; i < len(t.I64); i += 512 {
			chunk := t.I64[i:min(i+512, len(t.I64))]
			for j, v := range chunk {
				binary.LittleEndian.PutUint64(buf[8*j:], uint64(v))
			}
			crc = crc32.Update(crc, castagnoli, buf[:8*len(chunk)])
		}
	}
	return crc
}

// AddChecksums records the checksum of every tensor of f in f.Metadata[ChecksumKey] (creating the metadata map if
// needed). Call it last, once the tensors are final.
func AddChecksums(f *File) {
	sums := make(map[string]string, len(f.Tensors))
	for i := range f.Tensors {
		sums[f.Tensors[i].Name] = fmt.Sprintf("%08x", payloadCRC(&f.Tensors[i]))
	}
	raw, _ := json.Marshal(sums) // a map of strings always marshals
	if f.Metadata == nil {
		f.Metadata = map[string]string{}
	}
	f.Metadata[ChecksumKey] = string(raw)
}

// VerifyChecksums checks f's tensors against f.Metadata[ChecksumKey] when the file has it, and returns an error
// naming the file (name) and the first tensor, by name, whose data does not match — or that has no checksum, or
// a checksum without a tensor. A file without the key passes.
func VerifyChecksums(name string, f *File) error {
	raw, ok := f.Metadata[ChecksumKey]
	if !ok {
		return nil
	}
	var sums map[string]string
	if err := json.Unmarshal([]byte(raw), &sums); err != nil {
		return fmt.Errorf("safetensors: %s: metadata %q: %v", name, ChecksumKey, err)
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := f.Get(n); !ok {
			return fmt.Errorf("safetensors: %s: metadata %q lists tensor %q, which the file does not have", name, ChecksumKey, n)
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		want, ok := sums[t.Name]
		if !ok {
			return fmt.Errorf("safetensors: %s: tensor %q has no checksum in metadata %q", name, t.Name, ChecksumKey)
		}
		if got := fmt.Sprintf("%08x", payloadCRC(t)); got != want {
			return fmt.Errorf("safetensors: %s: tensor %q is corrupt: its data has CRC-32C %s, the file recorded %s", name, t.Name, got, want)
		}
	}
	return nil
}
