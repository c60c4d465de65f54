package train

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateNumbersValidated edits one number of a mid-epoch checkpoint's state.json at a time. Before, step −5 or
// epoch −1 gave a false "training diverged" report, step 999 of 5 silently skipped the rest of the epoch, and
// seen −100 or global_step 12345 were accepted. Each is now an error naming state.json and the key.
func TestStateNumbersValidated(t *testing.T) {
	ref := reference(t, OptimizerSGD)
	const name = "step-000000002"
	for _, c := range []struct {
		key  string
		edit func(st map[string]any)
	}{
		{"position.step", func(st map[string]any) { st["position"].(map[string]any)["step"] = -5 }},
		{"position.epoch", func(st map[string]any) { st["position"].(map[string]any)["epoch"] = -1 }},
		{"position.step", func(st map[string]any) { st["position"].(map[string]any)["step"] = 999 }},
		{"position.epoch", func(st map[string]any) { st["position"].(map[string]any)["epoch"] = 7 }},
		{"epoch_progress", func(st map[string]any) { st["epoch_progress"].(map[string]any)["seen"] = -100 }},
		{"epoch_progress", func(st map[string]any) { st["epoch_progress"].(map[string]any)["correct"] = 1000 }},
		{"global_step", func(st map[string]any) { st["global_step"] = 12345 }},
		{"steps_per_epoch", func(st map[string]any) { st["steps_per_epoch"] = 0 }},
		{"history", func(st map[string]any) { st["history"] = []any{map[string]any{"epoch": 1, "step": 5}} }},
		{"name", func(st map[string]any) { st["name"] = "step-000000009" }},
	} {
		t.Run(c.key, func(t *testing.T) {
			dir := copyRun(t, ref.dir, name)
			path := filepath.Join(dir, checkpointsDir, name, stateFile)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var st map[string]any
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			c.edit(st)
			raw, _ = json.Marshal(st)
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Resume(dir, nil, nil)
			if err == nil {
				r.Close()
				t.Fatal("resumed from an inconsistent state")
			}
			if msg := err.Error(); !strings.Contains(msg, stateFile+": "+c.key) || !strings.Contains(msg, name) {
				t.Fatalf("error %q should name %s, the key %s and the checkpoint", msg, stateFile, c.key)
			}
		})
	}
}

// TestStateConfigBounded: a state.json whose run config asks for 2e9 classes made Resume allocate the model
// (a fatal out-of-memory error). It is now refused before anything is built, naming the field.
func TestStateConfigBounded(t *testing.T) {
	ref := reference(t, OptimizerSGD)
	const name = "step-000000002"
	dir := copyRun(t, ref.dir, name)
	path := filepath.Join(dir, checkpointsDir, name, stateFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st["run"].(map[string]any)["model"].(map[string]any)["classes"] = 2_000_000_000
	raw, _ = json.Marshal(st)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := Resume(dir, nil, nil); err == nil || !strings.Contains(err.Error(), "classes 2000000000 exceeds the limit") ||
		!strings.Contains(err.Error(), stateFile) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Resume: %v, want an error naming state.json and classes", err)
	}
}
