package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// A checkpoint is a directory under <run>/checkpoints:
//
//	step-000000042/                  mid-epoch (CheckpointEvery) or interrupted: 42 steps taken
//	step-000000469-epoch-0001/       end of epoch 1, after its evaluation
//	    model.safetensors            weights and BN running statistics, zoo format (zoo.Load reads it); exact,
//	                                 since a float32 model keeps float32 statistics
//	    optimizer.safetensors        optimizer state, float64, "<param>.<slot>" (PyTorch's slot names)
//	    state.json                   CheckpointState: position, history, best, the full run config
//
// Names sort in the order the checkpoints were written. Each file is written with fsync into a temporary
// directory (".tmp-…") that is then renamed to the final name, so a checkpoint is either complete or absent;
// pruned checkpoints are renamed to ".trash-…" before being deleted. Leftovers of both are removed on resume.
const (
	checkpointsDir     = "checkpoints"
	modelFile          = "model.safetensors"
	optimizerFile      = "optimizer.safetensors"
	stateFile          = "state.json"
	checkpointFormat   = 1
	metaOptimizer      = "bnzoo.optimizer"
	metaCheckpointKind = "bnzoo.checkpoint"
)

var checkpointName = regexp.MustCompile(`^step-(\d{9})(-epoch-(\d{4,}))?$`)

// CheckpointState is a checkpoint's state.json.
type CheckpointState struct {
	Format int       `json:"format"`
	Name   string    `json:"name"`
	Time   time.Time `json:"time"`
	RunState
	// Run is the full configuration of the run the checkpoint belongs to.
	Run RunConfig `json:"run"`
}

// Checkpoint is a checkpoint read back: its state, the model with its weights and BatchNorm statistics, and the
// optimizer state.
type Checkpoint struct {
	Path           string
	State          CheckpointState
	Model          *zoo.Model
	OptimizerState map[string][]float64
}

// nameFor is the checkpoint name of a state: end-of-epoch checkpoints (step 0 of a later epoch, reached only
// through an evaluation) carry the epoch.
func nameFor(s RunState) string {
	if s.Position.Step == 0 && s.Position.Epoch > 0 {
		return fmt.Sprintf("step-%09d-epoch-%04d", s.GlobalStep, s.Position.Epoch)
	}
	return fmt.Sprintf("step-%09d", s.GlobalStep)
}

// Checkpoints lists the complete checkpoints of the run in dir, oldest first (names, not paths). A run without a
// checkpoints directory has none.
func Checkpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, checkpointsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && checkpointName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// LatestCheckpoint returns the path of the newest checkpoint of the run in dir, or "" when it has none.
func LatestCheckpoint(dir string) (string, error) {
	names, err := Checkpoints(dir)
	if err != nil || len(names) == 0 {
		return "", err
	}
	return filepath.Join(dir, checkpointsDir, names[len(names)-1]), nil
}

// writeCheckpoint writes the trainer's state as checkpoint cs.Name under ckDir, atomically. A state holding a NaN
// or an infinity (parameters, BatchNorm statistics, optimizer state) is refused with a *DivergenceError naming
// the tensor: a checkpoint on disk is always a state training can continue from.
func writeCheckpoint(ckDir string, t *Trainer, cs CheckpointState) (err error) {
	final := filepath.Join(ckDir, cs.Name)
	if err := checkModelState(t.Model); err != nil {
		return fmt.Errorf("checkpoint %s not written: %w", final, err)
	}
	optState := t.opt.State()
	if err := checkOptimizerState(optState); err != nil {
		return fmt.Errorf("checkpoint %s not written: %w", final, err)
	}
	tmp, err := os.MkdirTemp(ckDir, ".tmp-"+cs.Name+"-")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes it private
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if cs.History == nil {
		cs.History = []EpochStats{} // "history": [] rather than null
	}
	if err := t.Model.Save(filepath.Join(tmp, modelFile)); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	if err := writeOptimizer(filepath.Join(tmp, optimizerFile), t.opt.Name(), optState); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	js, err := json.MarshalIndent(cs, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", final, stateFile, err)
	}
	if err := atomicfile.Write(filepath.Join(tmp, stateFile), append(js, '\n')); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	syncDir(tmp)
	if _, err := os.Stat(final); err == nil {
		// Only possible when resuming from an older checkpoint by hand: the new one replaces the old.
		if err := trash(ckDir, cs.Name); err != nil {
			return fmt.Errorf("checkpoint %s: %w", final, err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("checkpoint %s: %w", final, err)
	}
	syncDir(ckDir)
	return nil
}

// writeOptimizer saves the optimizer state as float64 tensors "<param>.<slot>" (the step count as a scalar), with
// their checksums.
func writeOptimizer(path, name string, state map[string][]float64) error {
	f := &safetensors.File{Metadata: map[string]string{metaOptimizer: name, metaCheckpointKind: "optimizer"}}
	for k, v := range state {
		shape := []int{len(v)}
		if strings.HasSuffix(k, ".step") && len(v) == 1 {
			shape = []int{}
		}
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: k, DType: safetensors.F64, Shape: shape, F64: v})
	}
	safetensors.AddChecksums(f)
	return safetensors.WriteFile(path, f)
}

// LoadCheckpoint reads the checkpoint directory path: its state, the model it describes with the checkpoint's
// weights and BatchNorm statistics, and its optimizer state (checked against a fresh optimizer of the run's
// config). Every error names the file and, where there is one, the key.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	ck := &Checkpoint{Path: path}
	raw, err := os.ReadFile(filepath.Join(path, stateFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, &ck.State); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s is not valid JSON: %w", path, stateFile, err)
	}
	if ck.State.Format != checkpointFormat {
		return nil, fmt.Errorf("checkpoint %s: %s has format %d, this version reads %d", path, stateFile, ck.State.Format, checkpointFormat)
	}
	if err := ck.State.Run.Validate(); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: run config: %w", path, stateFile, err)
	}
	if err := ck.State.validate(filepath.Base(path)); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	dtype, _ := ck.State.Run.dtype()
	if ck.Model, err = zoo.New(ck.State.Run.Model, dtype); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := ck.Model.LoadWeights(filepath.Join(path, modelFile)); err != nil {
		return nil, err // names the file
	}
	if err := checkModelState(ck.Model); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s holds a diverged state: %w", path, modelFile, err)
	}
	if ck.OptimizerState, err = loadOptimizer(filepath.Join(path, optimizerFile), ck.State.Run.Train, ck.Model); err != nil {
		return nil, err // names the file
	}
	if err := checkOptimizerState(ck.OptimizerState); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s holds a diverged state: %w", path, optimizerFile, err)
	}
	return ck, nil
}

func loadOptimizer(path string, cfg Config, m *zoo.Model) (map[string][]float64, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := safetensors.VerifyChecksums(path, f); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if got := f.Metadata[metaOptimizer]; got != cfg.Optimizer {
		return nil, fmt.Errorf("%s: metadata %q is %q, the run uses %q", path, metaOptimizer, got, cfg.Optimizer)
	}
	state := make(map[string][]float64, len(f.Tensors))
	for _, t := range f.Tensors {
		if t.DType != safetensors.F64 {
			return nil, fmt.Errorf("%s: key %q has dtype %s, want F64", path, t.Name, t.DType)
		}
		state[t.Name] = t.F64
	}
	opt, err := NewOptimizer(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := opt.LoadState(state, m.Store.Params()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return state, nil
}

// pruneCheckpoints removes all but the keep newest checkpoints and best (keep 0 keeps all).
func pruneCheckpoints(dir string, keep int, best string) error {
	if keep <= 0 {
		return nil
	}
	names, err := Checkpoints(dir)
	if err != nil {
		return err
	}
	for i, name := range names {
		if i >= len(names)-keep || name == best {
			continue
		}
		if err := trash(filepath.Join(dir, checkpointsDir), name); err != nil {
			return err
		}
	}
	return nil
}

// trash removes ckDir/name by renaming it to a hidden name first, so that a crash mid-removal never leaves a
// partial checkpoint under a checkpoint's name.
func trash(ckDir, name string) error {
	tmp := filepath.Join(ckDir, ".trash-"+name+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(filepath.Join(ckDir, name), tmp); err != nil {
		return fmt.Errorf("remove checkpoint %s: %w", name, err)
	}
	syncDir(ckDir)
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove checkpoint %s: %w", name, err)
	}
	return nil
}

// requireCheckpointsDir fails when the run in dir has no checkpoints directory. NewRun creates it before run.json,
// so a run without one lost its checkpoints: resuming it would silently start over from step 0 (and, before this
// check, fail at the first checkpoint after training up to it).
func requireCheckpointsDir(dir string) error {
	ck := filepath.Join(dir, checkpointsDir)
	fi, err := os.Stat(ck)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s is missing: the run's checkpoints are gone, and resuming would start it over from step 0; "+
			"start a new run, or create the empty folder to restart this one from scratch", ck)
	case err != nil:
		return fmt.Errorf("checkpoints: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", ck)
	}
	return nil
}

// cleanLeftovers removes the temporary and trashed directories an interrupted write or prune left behind.
func cleanLeftovers(dir string) error {
	ckDir := filepath.Join(dir, checkpointsDir)
	entries, err := os.ReadDir(ckDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".trash-") {
			if err := os.RemoveAll(filepath.Join(ckDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir persists a directory's entries (creations, renames); filesystems that refuse are not an error here.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// dtypeNames maps RunConfig.Dtype to tensor dtypes.
var dtypeNames = map[string]tensor.Dtype{"float32": tensor.Float32, "float64": tensor.Float64}
