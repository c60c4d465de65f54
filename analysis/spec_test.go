package analysis

import (
	"math"
	"strings"
	"testing"
)

func TestLayerSpecBounded(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name  string
		lo    float64
		hi    float64
		bound bool
	}{
		{"tanh", -1, 1, true},
		{"sigmoid", 0, 1, true},
		{"lecun_tanh", -1.7159, 1.7159, true},
		{"relu", 0, inf, false},
		{"identity", -inf, inf, false},
		{"nan", math.NaN(), 1, false},
		{"empty", 1, 1, false},
	}
	for _, c := range cases {
		s := LayerSpec{Name: "l", Activation: c.name, Placement: PlacementNone, Channels: 1, Lower: c.lo, Upper: c.hi}
		if got := s.Bounded(); got != c.bound {
			t.Errorf("%s [%v, %v]: Bounded() = %v, want %v", c.name, c.lo, c.hi, got, c.bound)
		}
	}
}

func TestLayerSpecValidate(t *testing.T) {
	ok := LayerSpec{Name: "features.0", Activation: "tanh", Placement: PlacementSwapped, Channels: 3, Lower: -1, Upper: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	cases := []struct {
		mutate func(*LayerSpec)
		want   string
	}{
		{func(s *LayerSpec) { s.Name = "" }, "empty Name"},
		{func(s *LayerSpec) { s.Channels = 0 }, "Channels"},
		{func(s *LayerSpec) { s.Upper = -1 }, "Upper"},
		{func(s *LayerSpec) { s.Lower = math.NaN() }, "NaN"},
		{func(s *LayerSpec) { s.Placement = "before" }, "Placement"},
	}
	for _, c := range cases {
		s := ok
		c.mutate(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("spec %+v: error %v, want one mentioning %q", s, err, c.want)
		}
	}
}
