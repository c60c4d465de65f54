package zoo

import (
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// evalLogits runs a fixed batch through an evaluation graph of m.
func evalLogits(t *testing.T, m *Model, training bool) []float32 {
	t.Helper()
	g, err := m.Build(4, training, false)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Config.InputShape
	x := tensor.New(tensor.WithShape(4, s[0], s[1], s[2]), tensor.Of(tensor.Float32))
	rng := rand.New(rand.NewSource(9))
	for i := range x.Float32s() {
		x.Float32s()[i] = float32(rng.NormFloat64())
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
	return append([]float32(nil), out.(*tensor.Dense).Float32s()...)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, arch := range []string{"vgg_mini", "resnet20", "mobilenet_v2"} {
		for _, pl := range []layers.Placement{layers.Conventional, layers.Swapped, layers.NoBN} {
			t.Run(arch+"/"+pl.String(), func(t *testing.T) { saveLoadRoundTrip(t, arch, pl) })
		}
	}
}

func saveLoadRoundTrip(t *testing.T, arch string, pl layers.Placement) {
	t.Helper()
	c := cfg(arch, "softsign", pl, [3]int{3, 12, 12})
	if arch == "mobilenet_v2" {
		c.Width = 0.25
	}
	back, _ := roundTrip(t, c, 2)
	if pl.HasBN() {
		st, _ := back.Store.LookupBN("stem.bn")
		if arch == "vgg_mini" {
			st, _ = back.Store.LookupBN("features.2.bn")
		}
		if st.Tracked != 2 || st.Var[0] == 1 {
			t.Fatalf("running stats not restored: %+v", st)
		}
	}
}

// roundTrip makes a model of config c, runs `passes` training forward passes (they move the running statistics
// away from 0/1), saves it and loads it back with Load; the loaded config must equal c and the evaluation logits
// must be identical bit for bit. It returns the loaded model and the file.
func roundTrip(t *testing.T, c Config, passes int) (*Model, string) {
	t.Helper()
	m, err := New(c, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	for range passes {
		evalLogits(t, m, true)
	}
	before := evalLogits(t, m, false)
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Config, m.Config) {
		t.Fatalf("config %+v, want %+v", back.Config, m.Config)
	}
	after := evalLogits(t, back, false)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("logit %d: %v before save, %v after load", i, before[i], after[i])
		}
	}
	return back, path
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	m, _ := New(cfg("vgg_mini", "tanh", layers.Swapped, cifar), tensor.Float32)
	path := filepath.Join(dir, "mini.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	other, _ := New(cfg("vgg11", "tanh", layers.Swapped, cifar), tensor.Float32)
	if err := other.LoadWeights(path); err == nil || !strings.Contains(err.Error(), "vgg_mini") {
		t.Fatalf("loading vgg_mini weights into vgg11: %v", err)
	}
	conv, _ := New(cfg("vgg_mini", "tanh", layers.NoBN, cifar), tensor.Float32)
	if err := conv.LoadWeights(path); err == nil || !strings.Contains(err.Error(), "features.0") {
		t.Fatalf("loading a BN model into a no-BN model should name a key: %v", err)
	}
	mnist, _ := New(cfg("vgg_mini", "tanh", layers.Swapped, [3]int{1, 28, 28}), tensor.Float32)
	if err := mnist.LoadWeights(path); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("shape mismatch should be reported: %v", err)
	}
	data, _ := os.ReadFile(path)
	bad := filepath.Join(dir, "truncated.safetensors")
	os.WriteFile(bad, data[:len(data)/2], 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("truncated file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.safetensors")); err == nil {
		t.Fatal("a missing file should fail")
	}
}
