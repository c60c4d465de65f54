package zoo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// interopPython is the interpreter with PyTorch (Debian's python3-torch), not whatever python3 is first on PATH.
const interopPython = "/usr/bin/python3"

// interopScript is interop/pytorch/check_interop.py, relative to this package's directory.
var interopScript = filepath.Join("..", "interop", "pytorch", "check_interop.py")

// interopHeavy are the models slow enough in pure Go that one placement (swapped, the study's subject) is checked
// unless BNZOO_INTEROP_FULL is set (which also adds placement none for every model).
var interopHeavy = map[string]bool{"vgg16": true, "vgg19": true, "resnet18": true, "resnet34": true, "mobilenet_v2": true}

// interopFloat64 are the cases checked with a float64 model. In evaluation mode, resnet110 in conventional order
// (tanh after each of 54 residual adds) amplifies rounding chaotically: a 1e-7 change of the input moves its logits
// by 1e-3, and float32 PyTorch and float32 Go both land about 2e-3 from the exact (float64) logits — 25 times the
// tolerance — while agreeing with float64 PyTorch to 1e-12 when computed in float64.
var interopFloat64 = map[string]bool{"resnet110 tanh conventional": true}

type interopCase struct {
	cfg   Config
	dtype tensor.Dtype
	name  string // file-name stem, unique per case
}

// interopCases lists every registered model (zoo.Names, so architectures registered later are covered without
// editing this test) with activation tanh in the conventional and swapped placements; vgg_mini additionally with
// every activation in every placement; a few cheap models in placement none (residual adds without BN); the
// MobileNets at width 0.75 (channel rounding); vgg11 on 1×28×28 (a skipped max-pool); and vgg_mini with leaky_relu
// and elu at a non-default α.
func interopCases() []interopCase {
	var out []interopCase
	add := func(c Config) {
		if _, ok := registry[c.Arch]; !ok {
			return
		}
		label := fmt.Sprintf("%s_%s_%s_%dx%dx%d", c.Arch, c.Activation, c.PlacementSpec(), c.InputShape[0],
			c.InputShape[1], c.InputShape[2])
		if c.Width != 0 {
			label += fmt.Sprintf("_w%g", c.Width)
		}
		dtype := tensor.Float32
		if interopFloat64[c.String()] {
			dtype, label = tensor.Float64, label+"_f64"
		}
		out = append(out, interopCase{cfg: c, dtype: dtype, name: strings.NewReplacer(":", "_", ".", "p", "+", "_", "=", "-", "*", "x", "%", "pct").Replace(label)})
	}
	full := os.Getenv("BNZOO_INTEROP_FULL") != ""
	for _, arch := range Names() {
		switch {
		case arch == "vgg_mini":
			for _, act := range append(layers.ActivationNames(), "shifted_tanh:0.5") {
				for _, pl := range []layers.Placement{layers.Conventional, layers.Swapped, layers.NoBN} {
					add(cfg(arch, act, pl, cifar))
				}
			}
		case interopHeavy[arch] && !full:
			add(cfg(arch, "tanh", layers.Swapped, cifar))
		default:
			add(cfg(arch, "tanh", layers.Conventional, cifar))
			add(cfg(arch, "tanh", layers.Swapped, cifar))
		}
		if arch == "resnet20" || arch == "mobilenet_v1" || (full && arch != "vgg_mini") {
			add(cfg(arch, "tanh", layers.NoBN, cifar))
		}
	}
	for _, arch := range []string{"mobilenet_v1", "mobilenet_v2"} {
		c := cfg(arch, "lecun_tanh", layers.Conventional, cifar)
		c.Width = 0.75
		add(c)
	}
	add(cfg("vgg11", "softsign", layers.Swapped, [3]int{1, 28, 28}))
	// vgg_mini above runs every activation with its default parameter; these two check that a non-default α
	// reaches nn.LeakyReLU and nn.ELU.
	add(cfg("vgg_mini", "leaky_relu:0.2", layers.Swapped, cifar))
	add(cfg("vgg_mini", "elu:0.5", layers.Conventional, cifar))
	// Mixed placements (Config.PlacementRules): the PyTorch side must resolve the same rules to the same units —
	// by position (first/last, in Describe order) and by name — and a residual block whose units differ must put
	// the add where its last unit does.
	mixed := func(arch, act, spec string) {
		c := cfg(arch, act, 0, cifar)
		var err error
		if c.Placement, c.PlacementRules, err = ParsePlacementSpec(spec); err != nil {
			panic(err)
		}
		add(c)
	}
	mixed("vgg_mini", "tanh", "conventional+last:1=swapped")
	mixed("vgg_mini", "softsign", "swapped+features.0=none+features.2=conventional")
	mixed("resnet20", "lecun_tanh", "conventional+last:50%=swapped")
	mixed("resnet20", "tanh", "swapped+blocks.*.conv2=conventional+first:1=none")
	mixed("mobilenet_v2", "tanh", "conventional+blocks.1*=swapped")
	return out
}

// TestInteropGoToPyTorch checks the Go models against independent PyTorch definitions
// (interop/pytorch/models.py): each model gets non-trivial parameters and two training forward passes (so
// the BatchNorm running statistics are not 0/1), is saved with Model.Save and run in evaluation mode on a fixed
// input, and check_interop.py must load the file into its PyTorch model with a plain strict load_state_dict (the
// file is exactly PyTorch's state dict, num_batches_tracked included) and reproduce the logits.
// TestInteropPyTorchToGo checks the other direction.
func TestInteropGoToPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("PyTorch interop check is slow (pure-Go forward passes of every model); skipped with -short")
	}
	if out, err := exec.Command(interopPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (%v): %s", interopPython, err, bytes.TrimSpace(out))
	}
	if _, err := os.Stat(interopScript); err != nil {
		t.Fatalf("interop script: %v", err)
	}
	dir := os.Getenv("BNZOO_INTEROP_DIR") // keep the files there to inspect them; a temporary directory otherwise
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var args []string
	written := map[string]string{} // model file basename → case name
	for _, c := range interopCases() {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			files := writeInteropCase(t, dir, c)
			args = append(args, files[:]...)
			written[filepath.Base(files[0])] = c.name
			t.Logf("Go side in %v", time.Since(start).Round(time.Millisecond))
		})
	}
	if len(args) == 0 {
		t.Fatal("no model written")
	}
	// The counts must reach PyTorch. PyTorch's BatchNorm fills in a missing num_batches_tracked with 0 for a state
	// dict without version metadata, even in a strict load, so the first model rewritten as bnzoo wrote files before
	// the counts were tensors loads but must come out with counts of 0: the check below sees lost counts.
	legacy := writeLegacyCopy(t, args[0], filepath.Join(dir, "legacy_counts.model.safetensors"))
	if legacy != "" {
		args = append(args, legacy, args[1], args[2])
	}
	// One Python process for all cases: importing torch costs more than checking a small model.
	cmd := exec.Command(interopPython, append([]string{interopScript}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("PyTorch checked %d models in %v", len(written), time.Since(start).Round(time.Millisecond))
	seen := map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r struct {
			OK          bool             `json:"ok"`
			Model       string           `json:"model"`
			Error       string           `json:"error"`
			MaxAbsDiff  float64          `json:"max_abs_diff"`
			MaxExpected float64          `json:"max_abs_expected"`
			Tol         float64          `json:"tol"`
			DiffF64     *float64         `json:"max_abs_diff_f64"`
			TorchF32Err *float64         `json:"torch_f32_err"`
			Tracked     map[string]int64 `json:"tracked"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("unparsable line from %s: %q", interopScript, sc.Text())
			continue
		}
		if legacy != "" && r.Model == filepath.Base(legacy) {
			seen[r.Model] = true
			if !r.OK || len(r.Tracked) == 0 || countsOther(r.Tracked, 0) != "" {
				t.Errorf("a file without num_batches_tracked: PyTorch gave %s, want the logits with every count 0", sc.Text())
			}
			continue
		}
		name, ok := written[r.Model]
		if !ok {
			t.Errorf("result for an unknown model file: %s", sc.Text())
			continue
		}
		seen[r.Model] = true
		switch {
		case r.Error != "":
			t.Errorf("%s: PyTorch: %s", name, r.Error)
		case !r.OK:
			msg := fmt.Sprintf("%s: PyTorch logits differ: max |diff| %.3g > tolerance %.3g (max |logit| %.3g)", name,
				r.MaxAbsDiff, r.Tol, r.MaxExpected)
			if r.DiffF64 != nil && r.TorchF32Err != nil {
				// Tells a wrong architecture (Go far from exact, PyTorch float32 close) from ill-conditioning.
				msg += fmt.Sprintf("; from float64 PyTorch: Go %.3g, float32 PyTorch %.3g", *r.DiffF64, *r.TorchF32Err)
			}
			t.Error(msg)
		case countsOther(r.Tracked, 2) != "":
			// Two training passes in writeInteropCase: every BatchNorm counted 2 batches.
			t.Errorf("%s: PyTorch's num_batches_tracked: %s, want 2", name, countsOther(r.Tracked, 2))
		default:
			t.Logf("%-44s max |diff| %.3g (tolerance %.3g, max |logit| %.3g)", name, r.MaxAbsDiff, r.Tol, r.MaxExpected)
		}
	}
	for file, name := range written {
		if !seen[file] {
			t.Errorf("%s: no result from PyTorch", name)
		}
	}
	if legacy != "" && !seen[filepath.Base(legacy)] {
		t.Errorf("no result from PyTorch for the file without num_batches_tracked")
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("%s: %v\n%s", interopScript, runErr, stderr.Bytes())
	} else if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", interopScript, stderr.Bytes())
	}
}

// countsOther describes the counts in tracked that differ from want, or returns "" when all equal it.
func countsOther(tracked map[string]int64, want int64) string {
	var bad []string
	for bn, n := range tracked {
		if n != want {
			bad = append(bad, fmt.Sprintf("%s %d", bn, n))
		}
	}
	return strings.Join(bad, ", ")
}

// writeLegacyCopy rewrites the model file src as bnzoo wrote files before num_batches_tracked became tensors (the
// counts in "bnzoo.tracked" metadata) and returns its path, or "" when the model has no BatchNorm.
func writeLegacyCopy(t *testing.T, src, dst string) string {
	t.Helper()
	f, err := safetensors.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	kept := f.Tensors[:0]
	for _, tt := range f.Tensors {
		if bn, ok := strings.CutSuffix(tt.Name, trackedSuffix); ok {
			counts[bn] = tt.I64[0]
			continue
		}
		kept = append(kept, tt)
	}
	if len(counts) == 0 {
		return ""
	}
	f.Tensors = kept
	raw, _ := json.Marshal(counts)
	f.Metadata[metaTracked] = string(raw)
	safetensors.AddChecksums(f)
	if err := safetensors.WriteFile(dst, f); err != nil {
		t.Fatal(err)
	}
	return dst
}

// interopMinSpread is the least difference between the logits of the batch's two inputs for a check to mean
// something: 10 times the comparison's tolerance (1e-4 for logits of magnitude ≲ 1). An untrained deep net whose
// signal has died gives the classifier's bias for every input, which any architecture would reproduce.
const interopMinSpread = 1e-3

// perturbForInterop moves the parameters away from values a wrong PyTorch definition could match by accident: BN γ
// and β (1 and 0 at initialisation) and conv biases (0) become random, and depthwise filters, initialised as
// torchvision does (Kaiming fan-out counts the C·k·k outputs of a [C, 1, k, k] weight, so each filter has variance
// 2/(C·k²)), are scaled by √C to keep the MobileNets' signal alive through 13–17 depthwise layers even without BN.
func perturbForInterop(m *Model, rng *rand.Rand) {
	for _, p := range m.Store.Params() {
		shape := p.Value.Shape()
		var f func(i int, v float64) float64
		switch {
		case p.Kind == layers.BNGammaParam:
			f = func(int, float64) float64 { return 1 + 0.25*rng.NormFloat64() }
		case p.Kind == layers.BNBetaParam:
			f = func(int, float64) float64 { return 0.25 * rng.NormFloat64() }
		case p.Kind == layers.BiasParam && strings.HasSuffix(p.Name, ".conv.bias"):
			f = func(int, float64) float64 { return 0.1 * rng.NormFloat64() }
		case p.Kind == layers.WeightParam && len(shape) == 4 && shape[1] == 1 && shape[0] > 1:
			scale := math.Sqrt(float64(shape[0]))
			f = func(_ int, v float64) float64 { return v * scale }
		default:
			continue
		}
		if p.Value.Dtype() == tensor.Float64 {
			for i, v := range p.Value.Float64s() {
				p.Value.Float64s()[i] = f(i, v)
			}
		} else {
			for i, v := range p.Value.Float32s() {
				p.Value.Float32s()[i] = float32(f(i, float64(v)))
			}
		}
	}
}

// writeInteropCase builds c's model, runs two training passes on random batches, saves it, and writes a fixed
// input and the model's evaluation logits for it. It returns the model, input and expected-logits paths.
func writeInteropCase(t *testing.T, dir string, c interopCase) [3]string {
	t.Helper()
	const batch = 2
	m, err := New(c.cfg, c.dtype)
	if err != nil {
		t.Fatal(err)
	}
	s := c.cfg.InputShape
	rng := rand.New(rand.NewSource(11))
	randomBatch := func() *tensor.Dense {
		x := tensor.New(tensor.WithShape(batch, s[0], s[1], s[2]), tensor.Of(c.dtype))
		if c.dtype == tensor.Float64 {
			for i := range x.Float64s() {
				x.Float64s()[i] = rng.NormFloat64()
			}
		} else {
			for i := range x.Float32s() {
				x.Float32s()[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	perturbForInterop(m, rng)

	// Two training passes: the running statistics move away from 0/1. The first takes the batch statistics whole
	// (momentum 1) so that evaluation-mode BatchNorm roughly normalises, as in a trained net, instead of passing on
	// a signal that an untrained deep net shrinks to nothing; the second blends in another batch with PyTorch's
	// default momentum.
	g, err := m.Build(batch, true, false)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g.Graph)
	for pass := 0; pass < 2; pass++ {
		for _, name := range m.Store.BNNames() {
			st, _ := m.Store.LookupBN(name)
			st.Momentum = layers.DefaultBNMomentum
			if pass == 0 {
				st.Momentum = 1
			}
		}
		vm.Reset()
		if err := G.Let(g.Input, randomBatch()); err != nil {
			t.Fatal(err)
		}
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	vm.Close()
	paths := [3]string{
		filepath.Join(dir, c.name+".model.safetensors"),
		filepath.Join(dir, c.name+".input.safetensors"),
		filepath.Join(dir, c.name+".expected.safetensors"),
	}
	if err := m.Save(paths[0]); err != nil {
		t.Fatal(err)
	}

	// Evaluation pass on a fixed input, with the running statistics.
	g, err = m.Build(batch, false, false)
	if err != nil {
		t.Fatal(err)
	}
	x := randomBatch()
	if err := G.Let(g.Input, x); err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(g.Logits, &out)
	vm = G.NewTapeMachine(g.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	write := func(path, name string, v *tensor.Dense) {
		st := safetensors.Tensor{Name: name, Shape: v.Shape().Clone()}
		if v.Dtype() == tensor.Float64 {
			st.DType, st.F64 = safetensors.F64, append([]float64(nil), v.Float64s()...)
		} else {
			st.DType, st.F32 = safetensors.F32, append([]float32(nil), v.Float32s()...)
		}
		if err := safetensors.WriteFile(path, &safetensors.File{Tensors: []safetensors.Tensor{st}}); err != nil {
			t.Fatal(err)
		}
	}
	logits := out.(*tensor.Dense)
	// The check is only meaningful if the logits depend on the input.
	var spread float64
	for j := 0; j < c.cfg.Classes; j++ {
		a, _ := logits.At(0, j)
		b, _ := logits.At(1, j)
		spread = max(spread, math.Abs(toFloat64(a)-toFloat64(b)))
	}
	if spread < interopMinSpread {
		t.Fatalf("the logits of the two inputs differ by at most %.3g: the check would not see a wrong architecture", spread)
	}
	write(paths[1], "input", x)
	write(paths[2], "logits", logits)
	return paths
}

func toFloat64(v any) float64 {
	switch v := v.(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("unexpected element type %T", v))
}
