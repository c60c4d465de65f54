package train

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlippedBitInCheckpoint: a flipped bit in a checkpoint's model or optimizer file is an error naming the file
// and the tensor, not a silently different resume.
func TestFlippedBitInCheckpoint(t *testing.T) {
	ref := reference(t, OptimizerAdam)
	const name = "step-000000003"
	for _, file := range []string{modelFile, optimizerFile} {
		t.Run(file, func(t *testing.T) {
			dir := copyRun(t, ref.dir, name)
			path := filepath.Join(dir, checkpointsDir, name, file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			start := 8 + int(binary.LittleEndian.Uint64(data))
			data[start+(len(data)-start)/3] ^= 0x10
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Resume(dir, nil, nil)
			if err == nil {
				r.Close()
				t.Fatal("resumed from a checkpoint with a flipped bit")
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "is corrupt") {
				t.Fatalf("error %q should name %s and the corrupt tensor", msg, path)
			}
		})
	}
}
