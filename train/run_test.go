package train

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var tiny struct {
	once        sync.Once
	train, test *datasets.Split
	err         error
}

// tinySplits returns 120 training and 60 test MNIST images shrunk to 7×7 (means of 4×4 blocks): vgg_mini takes
// a step on 25 of them in milliseconds, so the run tests can train, interrupt and resume whole runs.
func tinySplits(t *testing.T) (*datasets.Split, *datasets.Split) {
	t.Helper()
	tiny.once.Do(func() {
		tr, te, err := datasets.Load("mnist", "")
		if err != nil {
			tiny.err = err
			return
		}
		tiny.train, tiny.test = shrink7(tr, 120), shrink7(te, 60)
	})
	if tiny.err != nil {
		t.Fatalf("MNIST (from the GoMNIST module; `go mod download` fetches it): %v", tiny.err)
	}
	return tiny.train, tiny.test
}

func shrink7(s *datasets.Split, n int) *datasets.Split {
	out := &datasets.Split{Name: fmt.Sprintf("%s[:%d]/7x7", s.Name, n), N: n, C: 1, H: 7, W: 7, Classes: s.Classes,
		Mean: s.Mean, Std: s.Std, Labels: append([]int(nil), s.Labels[:n]...), Images: make([]uint8, n*49)}
	for i := 0; i < n; i++ {
		img := s.Image(i)
		for y := 0; y < 7; y++ {
			for x := 0; x < 7; x++ {
				sum := 0
				for dy := 0; dy < 4; dy++ {
					for dx := 0; dx < 4; dx++ {
						sum += int(img[(4*y+dy)*28+4*x+dx])
					}
				}
				out.Images[i*49+y*7+x] = uint8(sum / 16)
			}
		}
	}
	return out
}

// tinyRun is the run the checkpoint tests train: vgg_mini on tinySplits, 2 epochs of 5 steps (the last batch of 20),
// a checkpoint after every step, all kept, and a schedule with warm-up so the learning rate changes every step.
func tinyRun(opt string) RunConfig {
	rc := RunConfig{
		Model: zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 7, 7},
			Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1},
		Data: DataSpec{Name: "mnist", TrainSubset: 120, TestSubset: 60},
		Train: Config{Epochs: 2, BatchSize: 25, Optimizer: opt, LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4,
			NoDecayBNBias: true, Schedule: Schedule{Kind: ScheduleCosine, WarmupEpochs: 0.5}, Seed: 7,
			CheckpointEvery: 1},
	}
	switch opt {
	case OptimizerSGD:
		rc.Train.Nesterov = true
	default:
		rc.Train.LR = 0.005
	}
	return rc
}

// snapshot is everything a finished run's result consists of, as bits.
type snapshot struct {
	tensors map[string][]uint64 // parameters, BN running statistics and optimizer state
	tracked map[string]int64
	history []EpochStats // timing fields zeroed
}

func snap(r *Run) snapshot {
	s := snapshot{tensors: map[string][]uint64{}, tracked: map[string]int64{}}
	m := r.Trainer.Model
	for _, p := range m.Store.Params() {
		var bits []uint64
		for _, v := range p.Value.Float32s() {
			bits = append(bits, uint64(math.Float32bits(v)))
		}
		s.tensors["param "+p.Name] = bits
	}
	f64 := func(x []float64) []uint64 {
		out := make([]uint64, len(x))
		for i, v := range x {
			out[i] = math.Float64bits(v)
		}
		return out
	}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		s.tensors["bn "+name+".mean"], s.tensors["bn "+name+".var"] = f64(st.Mean), f64(st.Var)
		s.tracked[name] = st.Tracked
	}
	for k, v := range r.Trainer.Optimizer().State() {
		s.tensors["optimizer "+k] = f64(v)
	}
	for _, h := range r.Trainer.State().History {
		h.ImgPerSec, h.Seconds, h.TotalSeconds = 0, 0, 0
		s.history = append(s.history, h)
	}
	return s
}

// diff describes the first difference between two snapshots, "" when they are bit-identical.
func (a snapshot) diff(b snapshot) string {
	if len(a.tensors) != len(b.tensors) {
		return fmt.Sprintf("%d tensors vs %d", len(a.tensors), len(b.tensors))
	}
	for k, x := range a.tensors {
		y, ok := b.tensors[k]
		if !ok || len(x) != len(y) {
			return k + " is missing or has another size"
		}
		for i := range x {
			if x[i] != y[i] {
				return fmt.Sprintf("%s differs at element %d", k, i)
			}
		}
	}
	if !reflect.DeepEqual(a.tracked, b.tracked) {
		return fmt.Sprintf("BN batches tracked %v vs %v", a.tracked, b.tracked)
	}
	if !reflect.DeepEqual(a.history, b.history) {
		return fmt.Sprintf("history %+v vs %+v", a.history, b.history)
	}
	return ""
}

var references struct {
	sync.Mutex
	byOpt map[string]referenceRun
}

type referenceRun struct {
	dir  string
	snap snapshot
}

// reference trains tinyRun(opt) without interruption once per test binary and returns its directory (every
// checkpoint kept) and final snapshot.
func reference(t *testing.T, opt string) referenceRun {
	t.Helper()
	references.Lock()
	defer references.Unlock()
	if ref, ok := references.byOpt[opt]; ok {
		return ref
	}
	tr, te := tinySplits(t)
	dir, err := os.MkdirTemp("", "bnzoo-train-reference-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRun(dir, tinyRun(opt))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	ref := referenceRun{dir: dir, snap: snap(r)}
	if references.byOpt == nil {
		references.byOpt = map[string]referenceRun{}
	}
	references.byOpt[opt] = ref
	return ref
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, ref := range references.byOpt {
		os.RemoveAll(ref.dir)
	}
	os.Exit(code)
}

// copyRun copies the run.json of src and the checkpoint called name into a new run directory.
func copyRun(t *testing.T, src, name string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	names, _ := Checkpoints(dst)
	for _, n := range names {
		if n != name {
			os.RemoveAll(filepath.Join(dst, checkpointsDir, n))
		}
	}
	if names, _ := Checkpoints(dst); len(names) != 1 {
		t.Fatalf("checkpoint %s not found in %s", name, src)
	}
	for _, f := range []string{logCSV, logJSONL, bestFile} {
		os.Remove(filepath.Join(dst, f))
	}
	return dst
}

// resumeToEnd resumes the run in dir and trains it to its end.
func resumeToEnd(t *testing.T, dir string) *Run {
	t.Helper()
	tr, te := tinySplits(t)
	r, err := Resume(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	if _, err := r.Fit(context.Background(), tr, te); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestResumeBitIdentical resumes the reference runs from checkpoints in the middle of an epoch, at the end of one
// (after its evaluation) and in the second epoch, and requires the final weights, BN statistics, optimizer state and
// history to be bit-identical to the uninterrupted run's.
func TestResumeBitIdentical(t *testing.T) {
	for _, c := range []struct {
		opt         string
		checkpoints []string
	}{
		{OptimizerSGD, []string{"step-000000002", "step-000000005-epoch-0001", "step-000000008"}},
		{OptimizerAdam, []string{"step-000000003", "step-000000006"}},
	} {
		ref := reference(t, c.opt)
		for _, name := range c.checkpoints {
			t.Run(c.opt+"/"+name, func(t *testing.T) {
				r := resumeToEnd(t, copyRun(t, ref.dir, name))
				if d := ref.snap.diff(snap(r)); d != "" {
					t.Fatalf("resumed from %s: %s", name, d)
				}
			})
		}
	}
}

// TestInterruptAndResume interrupts the tiny SGD run twice over: a real SIGTERM to the process after step 3 (in the
// middle of epoch 1), and a plain cancel after step 5, the last of epoch 1, which the evaluation then sees. Each
// time the step finishes, a checkpoint of it is the run's newest, the error says how to resume, and resuming ends
// bit-identical to the uninterrupted run.
func TestInterruptAndResume(t *testing.T) {
	ref := reference(t, OptimizerSGD)
	tr, te := tinySplits(t)
	for _, c := range []struct {
		name   string
		signal bool
		step   int
		want   []string // checkpoints left (keep 2)
	}{
		{"sigterm mid-epoch", true, 3, []string{"step-000000002", "step-000000003"}},
		{"cancel before evaluation", false, 5, []string{"step-000000004", "step-000000005"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			rc := tinyRun(OptimizerSGD)
			rc.Train.Keep = 2
			r, err := NewRun(dir, rc)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx, stop := context.WithCancel(context.Background())
			if c.signal {
				ctx, stop = SignalContext(context.Background(), nil)
			}
			defer stop()
			r.Trainer.hooks.afterStep = func(tr *Trainer) {
				if tr.state.GlobalStep != c.step {
					return
				}
				if !c.signal {
					stop()
					return
				}
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					t.Error(err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
					t.Error("SIGTERM did not cancel the context")
				}
			}
			_, err = r.Fit(ctx, tr, te)
			var ie *InterruptedError
			if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want an InterruptedError", err)
			}
			var se *SignalError
			if c.signal && (!errors.As(err, &se) || se.Signal != syscall.SIGTERM) {
				t.Fatalf("err = %v, want it caused by SIGTERM", err)
			}
			want := filepath.Join(dir, checkpointsDir, c.want[1])
			if ie.Checkpoint != want || !strings.Contains(err.Error(), "resume the run from "+dir) {
				t.Fatalf("err = %v, want checkpoint %s and how to resume", err, want)
			}
			if ie.Resume = "resubmit index 3"; !strings.HasSuffix(err.Error(), "; resubmit index 3") || strings.Contains(err.Error(), "resume the run") {
				t.Fatalf("with Resume set: %v", err)
			}
			if names, _ := Checkpoints(dir); !slices.Equal(names, c.want) {
				t.Fatalf("checkpoints %v, want %v", names, c.want)
			}
			r.Close() // the interrupted process exits, which releases the run's lock
			if d := ref.snap.diff(snap(resumeToEnd(t, dir))); d != "" {
				t.Fatalf("resumed: %s", d)
			}
		})
	}
}

// TestDivergenceStopsRun forces a NaN loss (a poisoned weight) and an infinite gradient at step 4: the run stops
// with an error naming the step and the first bad tensor, and the checkpoints of steps 1–3 stay as they were.
func TestDivergenceStopsRun(t *testing.T) {
	tr, te := tinySplits(t)
	for _, c := range []struct {
		name  string
		hooks hooks
		bad   int // index of the parameter whose gradient is the first bad tensor; -1 for the loss
		index int
	}{
		{"nan weight", hooks{afterStep: func(t *Trainer) {
			if t.state.GlobalStep == 3 {
				p, _ := t.Model.Store.Lookup("classifier.weight")
				p.Value.Float32s()[7] = float32(math.NaN())
			}
		}}, -1, -1},
		{"inf gradient", hooks{grads: func(t *Trainer, grads []G.Value) {
			if t.state.GlobalStep == 3 {
				grads[len(grads)-1].(*tensor.Dense).Float32s()[0] = float32(math.NaN())
				grads[3].(*tensor.Dense).Float32s()[5] = float32(math.Inf(1))
			}
		}}, 3, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := NewRun(dir, tinyRun(OptimizerSGD))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.Trainer.hooks = c.hooks
			tensorName := "loss"
			if c.bad >= 0 {
				tensorName = "gradient of " + r.Trainer.Model.Store.Params()[c.bad].Name
			}
			_, err = r.Fit(context.Background(), tr, te)
			var de *DivergenceError
			if !errors.Is(err, ErrDiverged) || !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DivergenceError", err)
			}
			last := filepath.Join(dir, checkpointsDir, "step-000000003")
			if de.Step != 4 || de.Epoch != 1 || de.Batch != 4 || de.Batches != 5 || de.Tensor != tensorName ||
				de.Index != c.index || de.LastCheckpoint != last {
				t.Fatalf("error %+v, want step 4 (epoch 1, batch 4/5) on %s[%d] after %s", de, tensorName, c.index, last)
			}
			if msg := err.Error(); !strings.Contains(msg, "step 4") || !strings.Contains(msg, tensorName) {
				t.Fatalf("message %q should name the step and %s", msg, tensorName)
			}
			if names, _ := Checkpoints(dir); !slices.Equal(names, []string{"step-000000001", "step-000000002", "step-000000003"}) {
				t.Fatalf("checkpoints after the divergence: %v", names)
			}
			ck, err := LoadCheckpoint(last)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ck.Model.Store.Params() {
				if i, v := firstNonFinite(p.Value.Float32s()); i >= 0 {
					t.Fatalf("the last good checkpoint has %s[%d] = %v", p.Name, i, v)
				}
			}
		})
	}
}

// TestCorruptCheckpoint damages a finished run's checkpoint in several ways: Resume fails with an error naming the
// damaged file (and key) rather than starting over or loading garbage.
func TestCorruptCheckpoint(t *testing.T) {
	ref := reference(t, OptimizerAdam)
	const name = "step-000000005-epoch-0001"
	ck := func(dir, file string) string { return filepath.Join(dir, checkpointsDir, name, file) }
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		corrupt func(dir string)
		want    []string
	}{
		{"truncated model", func(dir string) {
			if err := os.Truncate(ck(dir, modelFile), 100); err != nil {
				t.Fatal(err)
			}
		}, []string{name, modelFile}},
		{"model of another shape", func(dir string) {
			m, _ := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 5, InputShape: [3]int{1, 7, 7},
				Activation: layers.MustActivation("tanh"), Placement: layers.Swapped}, tensor.Float32)
			_ = m.Save(ck(dir, modelFile))
		}, []string{modelFile, `"classifier.weight" has shape`}},
		{"garbage optimizer", func(dir string) { write(ck(dir, optimizerFile), []byte("not a tensor file")) },
			[]string{optimizerFile}},
		{"optimizer key of the wrong size", func(dir string) {
			f, err := safetensors.ReadFile(ck(dir, optimizerFile))
			if err != nil {
				t.Fatal(err)
			}
			tn, _ := f.Get("classifier.bias.exp_avg")
			tn.F64, tn.Shape = tn.F64[:3], []int{3}
			safetensors.AddChecksums(f) // consistent checksums: the size check must catch it
			if err := safetensors.WriteFile(ck(dir, optimizerFile), f); err != nil {
				t.Fatal(err)
			}
		}, []string{optimizerFile, `"classifier.bias.exp_avg" has 3 values`}},
		{"missing optimizer", func(dir string) { os.Remove(ck(dir, optimizerFile)) }, []string{optimizerFile}},
		{"state not json", func(dir string) { write(ck(dir, stateFile), []byte("{\"format\": 1,")) },
			[]string{stateFile}},
		{"state of another format", func(dir string) { write(ck(dir, stateFile), []byte(`{"format": 99}`)) },
			[]string{stateFile, "format 99"}},
		{"no run.json", func(dir string) { os.Remove(filepath.Join(dir, runFile)) }, []string{"not a run directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, ref.dir, name)
			c.corrupt(dir)
			r, err := Resume(dir, nil, nil)
			if err == nil {
				r.Close()
				t.Fatal("resumed from a corrupt checkpoint")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q should mention %q", err, w)
				}
			}
		})
	}
}

// TestRunDirectory checks what a run leaves in its directory: the Keep newest checkpoints plus the best, best.json,
// and logs whose rows are the history; that a finished run resumes to nothing more; and that a directory holding
// a run is not reused.
func TestRunDirectory(t *testing.T) {
	tr, te := tinySplits(t)
	dir := t.TempDir()
	rc := tinyRun(OptimizerAdamW)
	rc.Train.Keep, rc.Train.CheckpointEvery = 2, 2
	r, err := NewRun(dir, rc)
	if err != nil {
		t.Fatal(err)
	}
	history, err := r.Fit(context.Background(), tr, te)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 2 || history[1].Step != 10 || history[0].LR <= 0 {
		t.Fatalf("history %+v", history)
	}
	best := r.Trainer.State().Best
	wantBest := "step-000000005-epoch-0001"
	if history[1].EvalAcc > history[0].EvalAcc {
		wantBest = "step-000000010-epoch-0002"
	}
	if best == nil || best.Checkpoint != wantBest {
		t.Fatalf("best %+v, want %s (test accuracies %v, %v)", best, wantBest, history[0].EvalAcc, history[1].EvalAcc)
	}
	want := []string{"step-000000008", "step-000000010-epoch-0002"}
	if wantBest != want[1] {
		want = []string{wantBest, want[0], want[1]}
	}
	if names, _ := Checkpoints(dir); !slices.Equal(names, want) {
		t.Fatalf("checkpoints %v, want %v (2 newest and the best)", names, want)
	}
	var bj BestCheckpoint
	if raw, err := os.ReadFile(filepath.Join(dir, bestFile)); err != nil || json.Unmarshal(raw, &bj) != nil || bj != *best {
		t.Fatalf("best.json: %s, %v", raw, err)
	}
	f, err := os.Open(filepath.Join(dir, logCSV))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], logColumns) || rows[2][0] != "2" || rows[2][1] != "10" {
		t.Fatalf("log.csv: %v %v", rows, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, logJSONL))
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if err != nil || len(lines) != 2 {
		t.Fatalf("log.jsonl: %q %v", raw, err)
	}
	for i, line := range lines {
		var h EpochStats
		if err := json.Unmarshal([]byte(line), &h); err != nil || !reflect.DeepEqual(h, history[i]) {
			t.Fatalf("log.jsonl line %d: %s (%v), want %+v", i+1, line, err, history[i])
		}
	}
	again, err := Resume(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if h, err := again.Fit(context.Background(), tr, te); !again.Done() || err != nil || !reflect.DeepEqual(h, history) {
		t.Fatalf("resuming a finished run: %v, %+v", err, h)
	}
	if _, err := NewRun(dir, rc); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Fatalf("NewRun on a run directory: %v", err)
	}
	if _, err := again.Fit(context.Background(), datasets.Subset(tr, 100), te); err == nil || !strings.Contains(err.Error(), "trained on") {
		t.Fatalf("resuming with other data: %v", err)
	}
}
