package layers

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestParseActivation(t *testing.T) {
	for _, name := range ActivationNames() {
		a, err := ParseActivation(name)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseActivation(a.String())
		if err != nil || back != a {
			t.Fatalf("%s: round trip gave %v, %v", name, back, err)
		}
	}
	a, err := ParseActivation("shifted_tanh:0.5")
	if err != nil || a.Kind != ShiftedTanh || a.Shift != 0.5 || a.String() != "shifted_tanh:0.5" {
		t.Fatalf("shifted_tanh:0.5 → %+v %v", a, err)
	}
	if a, _ := ParseActivation("shifted_tanh"); a.Shift != DefaultShift {
		t.Fatalf("default shift = %v", a.Shift)
	}
	for _, c := range []struct {
		name, canon string
		kind        ActivationKind
		alpha       float64
	}{
		{"leaky_relu", "leaky_relu:0.01", LeakyReLU, 0.01}, {"leaky_relu:0.2", "leaky_relu:0.2", LeakyReLU, 0.2},
		{"Leaky_ReLU:0", "leaky_relu:0", LeakyReLU, 0}, {"elu", "elu:1", ELU, 1}, {"elu:0.5", "elu:0.5", ELU, 0.5},
		{"silu", "silu", SiLU, 0}, {"gelu", "gelu", GELU, 0},
	} {
		a, err := ParseActivation(c.name)
		if err != nil || a.Kind != c.kind || a.Alpha != c.alpha || a.String() != c.canon {
			t.Fatalf("%s → %+v %q %v, want kind %v α %v %q", c.name, a, a.String(), err, c.kind, c.alpha, c.canon)
		}
	}
	for _, bad := range []string{"swish", "", "tanh:1", "shifted_tanh:x", "shifted_tanh:NaN", "leaky_relu:-0.1",
		"leaky_relu:Inf", "elu:-1", "elu:x", "silu:1", "gelu:tanh"} {
		_, err := ParseActivation(bad)
		if err == nil {
			t.Fatalf("%q should be rejected", bad)
		}
		if bad == "swish" && !strings.Contains(err.Error(), "lecun_tanh") {
			t.Fatalf("error should list valid names: %v", err)
		}
	}
	for _, bad := range []Activation{{Kind: LeakyReLU, Alpha: -0.1}, {Kind: ELU, Alpha: math.NaN()}, {Kind: GELU + 1}} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v should not validate", bad)
		}
	}
	for _, name := range ActivationNames() {
		if err := MustActivation(name).validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var cfg struct {
		Act Activation `json:"act"`
	}
	if err := json.Unmarshal([]byte(`{"act":"softsign"}`), &cfg); err != nil || cfg.Act.Kind != Softsign {
		t.Fatalf("json: %+v %v", cfg, err)
	}
}

func TestActivationValuesAndBounds(t *testing.T) {
	cases := []struct {
		name         string
		x, want      float64
		lower, upper float64
	}{
		{"relu", -2, 0, 0, math.Inf(1)},
		{"relu", 3, 3, 0, math.Inf(1)},
		{"tanh", 0.5, math.Tanh(0.5), -1, 1},
		{"lecun_tanh", 1, 1.7159 * math.Tanh(2.0/3), -1.7159, 1.7159},
		{"softsign", -3, -0.75, -1, 1},
		{"sigmoid", 0, 0.5, 0, 1},
		{"hardtanh", 2.5, 1, -1, 1},
		{"hardtanh", -0.25, -0.25, -1, 1},
		{"identity", -7, -7, math.Inf(-1), math.Inf(1)},
		{"shifted_tanh:2", 2, 0, -1, 1},
		{"shifted_tanh:1", 0, math.Tanh(-1), -1, 1},
		{"leaky_relu", -2, -0.02, math.Inf(-1), math.Inf(1)},
		{"leaky_relu:0.2", 3, 3, math.Inf(-1), math.Inf(1)},
		{"leaky_relu:0", -3, 0, 0, math.Inf(1)},
		{"elu", -1, math.Exp(-1) - 1, -1, math.Inf(1)},
		{"elu:0.5", 2, 2, -0.5, math.Inf(1)},
		{"silu", 1, 1 / (1 + math.Exp(-1)), siluMin, math.Inf(1)},
		{"silu", -2, -2 / (1 + math.Exp(2)), siluMin, math.Inf(1)},
		{"gelu", 1, 0.8413447460685429, geluMin, math.Inf(1)},    // Φ(1) = 0.8413447460685429
		{"gelu", -1, -0.15865525393145707, geluMin, math.Inf(1)}, // −Φ(−1)
		{"gelu", -10, -7.61985302416047e-23, geluMin, math.Inf(1)},
	}
	for _, c := range cases {
		a := MustActivation(c.name)
		if got := a.eval(c.x); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s(%v) = %v, want %v", c.name, c.x, got, c.want)
		}
		if l, u := a.Bounds(); l != c.lower || u != c.upper {
			t.Errorf("%s bounds = [%v, %v], want [%v, %v]", c.name, l, u, c.lower, c.upper)
		}
	}
	if MustActivation("relu").Bounded() || !MustActivation("softsign").Bounded() {
		t.Fatal("Bounded is wrong")
	}
	for _, name := range []string{"leaky_relu", "leaky_relu:0", "elu", "silu", "gelu"} {
		if MustActivation(name).Bounded() {
			t.Errorf("%s should be unbounded (no saturation metrics)", name)
		}
	}
	// The lower bounds of SiLU and GELU enclose their minima, by less than 1e-11.
	for _, c := range []struct {
		name string
		xmin float64
	}{{"silu", -1.278464543243253}, {"gelu", -0.7517915170166474}} {
		a := MustActivation(c.name)
		lo, _ := a.Bounds()
		for _, x := range []float64{c.xmin, c.xmin - 1e-4, c.xmin + 1e-4} {
			if v := a.eval(x); v < lo {
				t.Errorf("%s(%v) = %v below its lower bound %v", c.name, x, v, lo)
			}
		}
		if v := a.eval(c.xmin); v-lo > 1e-11 {
			t.Errorf("%s: minimum %v is %v above the bound", c.name, v, v-lo)
		}
	}
}

func TestParsePlacement(t *testing.T) {
	for i, name := range PlacementNames() {
		p, err := ParsePlacement(name)
		if err != nil || int(p) != i || p.String() != name {
			t.Fatalf("%s → %v %v", name, p, err)
		}
	}
	if _, err := ParsePlacement("after"); err == nil || !strings.Contains(err.Error(), "swapped") {
		t.Fatalf("unknown placement error = %v", err)
	}
	if NoBN.HasBN() || !Swapped.HasBN() {
		t.Fatal("HasBN is wrong")
	}
}
