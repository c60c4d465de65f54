package zoo

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mixedConfig is cfg(arch, act, …) with the placement spec parsed (base and rules).
func mixedConfig(t *testing.T, arch, act, spec string, shape [3]int) Config {
	t.Helper()
	c := cfg(arch, act, 0, shape)
	var err error
	if c.Placement, c.PlacementRules, err = ParsePlacementSpec(spec); err != nil {
		t.Fatal(err)
	}
	return c
}

// effective lists every unit's placement in Describe order, as "name=placement".
func effective(t *testing.T, c Config) []string {
	t.Helper()
	d, err := Describe(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range d.Units {
		out = append(out, u.Name+"="+u.Placement.String())
	}
	return out
}

func TestPlacementSpecGrammar(t *testing.T) {
	for _, s := range []string{"swapped", "conventional+last:2=swapped", "none+first:50%=conventional",
		"conventional+features.0=none+blocks.*.conv2=swapped", "swapped+layer[12].conv?=conventional"} {
		base, rules, err := ParsePlacementSpec(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if back := FormatPlacementSpec(base, rules); back != s {
			t.Fatalf("%q formats back as %q", s, back)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"sideways", `unknown placement "sideways"`},
		{"conventional+last:2", `"last:2": want SELECTOR=PLACEMENT`},
		{"conventional+=swapped", `"=swapped": want SELECTOR=PLACEMENT`},
		{"conventional+last:0=swapped", `"last:0=swapped": last:K needs a whole number K ≥ 1`},
		{"conventional+first:x=swapped", `"first:x=swapped": first:K needs`},
		{"conventional+first:150%=swapped", `"first:150%=swapped": first:P% needs 0 < P ≤ 100`},
		{"conventional+last:2=upside", `"last:2=upside": unknown placement "upside"`},
		{"conventional+features[=swapped", `"features[=swapped": bad unit pattern`},
	} {
		_, _, err := ParsePlacementSpec(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.spec, err, tc.want)
		}
	}
}

func TestUnitPlacementsResolveInOrder(t *testing.T) {
	s, c, n := layers.Swapped, layers.Conventional, layers.NoBN
	for _, tc := range []struct {
		spec string
		want []layers.Placement // vgg11's 8 units, features.0 … features.7
	}{
		{"conventional", []layers.Placement{c, c, c, c, c, c, c, c}},
		{"conventional+last:3=swapped", []layers.Placement{c, c, c, c, c, s, s, s}},
		{"conventional+first:50%=swapped", []layers.Placement{s, s, s, s, c, c, c, c}},
		{"conventional+last:40%=swapped", []layers.Placement{c, c, c, c, c, s, s, s}}, // ⌊3.2⌋ = 3
		{"swapped+features.[0-2]=none+features.1=conventional", []layers.Placement{n, c, n, s, s, s, s, s}},
		{"swapped+*=conventional+last:1=none", []layers.Placement{c, c, c, c, c, c, c, n}},
	} {
		got := effective(t, mixedConfig(t, "vgg11", "tanh", tc.spec, cifar))
		var want []string
		for i, p := range tc.want {
			want = append(want, "features."+string(rune('0'+i))+"="+p.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.spec, got, want)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"conventional+blocks.*=swapped", `placement rule "blocks.*=swapped" matches no unit (units: features.0, features.1`},
		{"conventional+first:9=swapped", `placement rule "first:9=swapped": the model has only 8 units`},
		{"conventional+last:10%=swapped", `placement rule "last:10%=swapped" selects no unit: the model has 8`},
	} {
		c := mixedConfig(t, "vgg11", "tanh", tc.spec, cifar)
		for what, err := range map[string]error{"Describe": describeErr(c), "New": newErr(c)} {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s(%s): error %v, want it to contain %q", what, tc.spec, err, tc.want)
			}
		}
	}
}

func describeErr(c Config) error { _, err := Describe(c); return err }
func newErr(c Config) error      { _, err := New(c, tensor.Float32); return err }

// TestMixedModelSaveLoad saves mixed models and loads them back: the rules travel in the file's config, Load
// rebuilds the same units (the same logits, bit for bit), LoadWithConfig accepts a config that resolves to the same
// placements written another way and refuses one that does not, and the report of the loaded model names each
// unit's effective placement.
func TestMixedModelSaveLoad(t *testing.T) {
	for _, spec := range []struct{ arch, spec, same, other string }{
		{"vgg_mini", "conventional+last:1=swapped", "swapped+features.[01]=conventional", "conventional"},
		{"resnet20", "swapped+blocks.*.conv2=conventional+stem=none", "conventional+stem=none+blocks.*.conv1=swapped",
			"swapped+stem=none"},
	} {
		t.Run(spec.arch, func(t *testing.T) {
			c := mixedConfig(t, spec.arch, "tanh", spec.spec, cifar)
			back, path := roundTrip(t, c, 1)
			js, _ := json.Marshal(back.Config)
			if !bytes.Contains(js, []byte(`"placement_rules":[`)) {
				t.Fatalf("config JSON %s has no placement_rules", js)
			}
			if _, err := LoadWithConfig(path, mixedConfig(t, spec.arch, "tanh", spec.same, cifar), Float32); err != nil {
				t.Fatalf("LoadWithConfig(%s), the same placements written another way: %v", spec.same, err)
			}
			_, err := LoadWithConfig(path, mixedConfig(t, spec.arch, "tanh", spec.other, cifar), Float32)
			if err == nil || !strings.Contains(err.Error(), spec.spec) {
				t.Fatalf("LoadWithConfig(%s) of a %s file: %v, want an error naming the file's placement", spec.other,
					spec.spec, err)
			}
			var buf bytes.Buffer
			d, err := Describe(back.Config)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Write(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), spec.spec) {
				t.Fatalf("Describe's header does not name the placement %s:\n%s", spec.spec, buf.String())
			}
			for _, line := range effective(t, c) {
				name, pl, _ := strings.Cut(line, "=")
				if !strings.Contains(buf.String(), "\n"+name+" ") || !containsRow(buf.String(), name, pl) {
					t.Fatalf("Describe does not show %s in %s:\n%s", name, pl, buf.String())
				}
			}
		})
	}
}

// containsRow reports whether the Describe table has a row for unit name ending in placement pl.
func containsRow(table, name, pl string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == name && f[len(f)-1] == pl {
			return true
		}
	}
	return false
}

// TestGradMixedVGGMini gradient-checks (float64) a vgg_mini whose three units are in three placements, end to end.
func TestGradMixedVGGMini(t *testing.T) {
	for _, spec := range []string{"conventional+features.1=swapped+features.2=none", "swapped+first:1=conventional"} {
		t.Run(spec, func(t *testing.T) {
			c := mixedConfig(t, "vgg_mini", "lecun_tanh", spec, [3]int{1, 8, 8})
			gradCheckModel(t, c)
		})
	}
}

// TestGradMixedBasicBlock gradient-checks a residual block whose two units differ, each way round and with each
// shortcut kind: the add follows the second unit's placement.
func TestGradMixedBasicBlock(t *testing.T) {
	for _, pl := range [][2]layers.Placement{{layers.Conventional, layers.Swapped}, {layers.Swapped, layers.Conventional},
		{layers.NoBN, layers.Swapped}} {
		for _, sc := range []struct {
			name       string
			out        int
			stride     int
			projection bool
		}{{"identity", 2, 1, false}, {"projection", 4, 2, true}} {
			t.Run(pl[0].String()+"_then_"+pl[1].String()+"/"+sc.name, func(t *testing.T) {
				c := Config{Activation: layers.MustActivation("tanh"), Placement: layers.Conventional}
				checkBlock(t, []int{3, 2, 4, 4}, func(b *layers.Builder, x *G.Node) (*G.Node, error) {
					b.Placements = map[string]layers.Placement{"blocks.0.conv1": pl[0], "blocks.0.conv2": pl[1]}
					b.Taps = layers.NewTaps()
					y, err := basicBlock(b, x, "blocks.0", sc.out, sc.stride, sc.projection, c)
					if err != nil {
						return nil, err
					}
					for i, u := range b.Taps.Units() {
						if u.Placement != pl[i] {
							t.Errorf("unit %s built in %s, want %s", u.Name, u.Placement, pl[i])
						}
					}
					return y, nil
				})
			})
		}
	}
}
