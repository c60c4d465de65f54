package zoo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os/exec"
	"testing"

	"github.com/bnzoo/bnzoo/internal/safetensors"
	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// exportCase is one model PyTorch initialises and saves for Go to load: torchDtype is the dtype PyTorch writes,
// goDtype the one LoadWithConfig builds (they differ to check the conversion).
type exportCase struct {
	name       string
	cfg        Config
	torchDtype string
	goDtype    tensor.Dtype
}

// exportCases cover each family's naming (VGG features, ResNet blocks with option-A shortcuts, MobileNet blocks
// with dw/pw and expand/dw/project) in every placement of vgg_mini, both dtypes, and a float32 state dict loaded
// into a float64 model. Inputs are small: the point is the loading, not the architectures, which
// TestInteropGoToPyTorch checks model by model (their state-dict names are the same in both directions).
func exportCases() []exportCase {
	small := [3]int{3, 16, 16}
	c := func(arch, act string, pl layers.Placement, width float64, seed int64) Config {
		cf := cfg(arch, act, pl, small)
		cf.Width, cf.Seed = width, seed
		return cf
	}
	return []exportCase{
		{"vgg_mini_conventional", c("vgg_mini", "tanh", layers.Conventional, 0, 3), "float32", tensor.Float32},
		{"vgg_mini_swapped", c("vgg_mini", "softsign", layers.Swapped, 0, 4), "float32", tensor.Float32},
		{"vgg_mini_none", c("vgg_mini", "tanh", layers.NoBN, 0, 5), "float32", tensor.Float32},
		{"vgg_mini_swapped_f32_into_f64", c("vgg_mini", "tanh", layers.Swapped, 0, 6), "float32", tensor.Float64},
		{"resnet20_swapped", c("resnet20", "relu", layers.Swapped, 0, 7), "float32", tensor.Float32},
		{"mobilenet_v1_conventional", c("mobilenet_v1", "lecun_tanh", layers.Conventional, 0.25, 8), "float32", tensor.Float32},
		{"mobilenet_v2_swapped_f64", c("mobilenet_v2", "tanh", layers.Swapped, 0.25, 9), "float64", tensor.Float64},
		{"vgg_mini_mixed", mixedIn(c("vgg_mini", "tanh", 0, 0, 10), "swapped+features.0=none+last:1=conventional"), "float32", tensor.Float32},
		{"resnet20_mixed", mixedIn(c("resnet20", "softsign", 0, 0, 11), "conventional+blocks.*.conv2=swapped"), "float32", tensor.Float32},
	}
}

// mixedIn is c with the placement spec's base and rules (Config.PlacementRules).
func mixedIn(c Config, spec string) Config {
	var err error
	if c.Placement, c.PlacementRules, err = ParsePlacementSpec(spec); err != nil {
		panic(err)
	}
	return c
}

// TestInteropPyTorchToGo is the other direction of TestInteropGoToPyTorch: check_interop.py --export builds each
// model in PyTorch with PyTorch's own seeded initialisation (perturbed, and two training passes so that the running
// statistics and num_batches_tracked are not their defaults) and saves the plain state_dict() with no metadata;
// LoadWithConfig must load it given the config, restore every count, and reproduce PyTorch's eval logits.
func TestInteropPyTorchToGo(t *testing.T) {
	if testing.Short() {
		t.Skip("PyTorch interop check runs Python; skipped with -short")
	}
	if out, err := exec.Command(interopPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (%v): %s", interopPython, err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	cases := exportCases()
	args := []string{interopScript, "--export", dir}
	for _, c := range cases {
		raw, err := json.Marshal(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, c.name, c.torchDtype, string(raw))
	}
	cmd := exec.Command(interopPython, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	type exported struct {
		OK                     bool   `json:"ok"`
		Name                   string `json:"name"`
		Error                  string `json:"error"`
		Model, Input, Expected string
		Params                 int `json:"params"`
	}
	results := map[string]exported{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r exported
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("unparsable line from %s: %q", interopScript, sc.Text())
		}
		results[r.Name] = r
	}
	if runErr != nil {
		t.Logf("%s: %v\n%s", interopScript, runErr, stderr.Bytes())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, ok := results[c.name]
			switch {
			case !ok:
				t.Fatalf("no result from PyTorch (stderr: %s)", stderr.Bytes())
			case !r.OK:
				t.Fatalf("PyTorch export failed: %s", r.Error)
			}
			m, err := LoadWithConfig(r.Model, c.cfg, c.goDtype)
			if err != nil {
				t.Fatal(err)
			}
			if m.ParamCount() != r.Params {
				t.Errorf("%d parameters, PyTorch has %d", m.ParamCount(), r.Params)
			}
			for _, bn := range m.Store.BNNames() {
				if st, _ := m.Store.LookupBN(bn); st.Tracked != 2 || st.Var[0] == 1 {
					t.Fatalf("%s: tracked %d, running var[0] %v: PyTorch's two training passes not loaded", bn, st.Tracked, st.Var[0])
				}
			}
			compareExported(t, m, r.Input, r.Expected)
		})
	}
}

// compareExported runs m in evaluation mode on the input PyTorch saved and compares with PyTorch's logits, with the
// tolerance check_interop.py uses (1e-4·(1 + max |expected|)), after checking that the logits depend on the input.
func compareExported(t *testing.T, m *Model, inputPath, expectedPath string) {
	t.Helper()
	read := func(path, name string) *safetensors.Tensor {
		f, err := safetensors.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := f.Get(name)
		if !ok {
			t.Fatalf("%s has no tensor %q", path, name)
		}
		return v
	}
	in, want := read(inputPath, "input"), read(expectedPath, "logits")
	x := tensor.New(tensor.WithShape(in.Shape...), tensor.Of(m.Dtype()))
	if m.Dtype() == tensor.Float64 {
		copyInto(x.Float64s(), in)
	} else {
		copyInto(x.Float32s(), in)
	}
	g, err := m.Build(in.Shape[0], false, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := G.Let(g.Input, x); err != nil {
		t.Fatal(err)
	}
	var out G.Value
	G.Read(g.Logits, &out)
	vm := G.NewTapeMachine(g.Graph)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := out.(*tensor.Dense)
	expected := make([]float64, len(want.F32)+len(want.F64))
	copyInto(expected, want)
	classes := m.Config.Classes
	var diff, scale, spread float64
	for i, e := range expected {
		g, _ := got.At(i/classes, i%classes)
		diff = max(diff, math.Abs(toFloat64(g)-e))
		scale = max(scale, math.Abs(e))
		if i < classes {
			spread = max(spread, math.Abs(e-expected[i+classes]))
		}
	}
	if spread < interopMinSpread {
		t.Fatalf("PyTorch's logits of the two inputs differ by at most %.3g: the check would not see a wrong load", spread)
	}
	if tol := 1e-4 * (1 + scale); diff > tol || math.IsNaN(diff) {
		t.Fatalf("Go logits differ from PyTorch's: max |diff| %.3g > tolerance %.3g (max |logit| %.3g)", diff, tol, scale)
	}
	t.Logf("max |diff| %.3g (max |logit| %.3g)", diff, scale)
}
