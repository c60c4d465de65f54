package datasets

import (
	"math"
	"testing"
)

func TestChannelStats(t *testing.T) {
	s := &Split{
		Name: "two", N: 2, C: 2, H: 1, W: 2,
		// channel 0 holds 0, 255, 0, 255; channel 1 is constant 51.
		Images: []uint8{0, 255, 51, 51, 255, 0, 51, 51},
		Labels: []int{0, 1},
	}
	mean, std := ChannelStats(s)
	if len(mean) != 2 || mean[0] != 0.5 || std[0] != 0.5 || math.Abs(mean[1]-0.2) > 1e-15 || std[1] != 1 {
		t.Fatalf("ChannelStats = %v, %v; want [0.5 0.2], [0.5 1] (constant channel → 1)", mean, std)
	}
	s.Mean, s.Std = mean, std
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if m, sd := ChannelStats(nil); m != nil || sd != nil {
		t.Error("nil split")
	}
	s.Images = s.Images[:3]
	if m, _ := ChannelStats(s); m != nil {
		t.Error("inconsistent split")
	}
	empty := &Split{C: 3, H: 2, W: 2}
	if m, sd := ChannelStats(empty); len(m) != 3 || m[0] != 0 || sd[2] != 1 {
		t.Errorf("empty split: %v %v", m, sd)
	}
}

func TestNormalisationConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		mean, std [3]float64
		want      [6]float64
	}{
		{"CIFAR-10", CIFAR10Mean, CIFAR10Std, [6]float64{0.4914, 0.4822, 0.4465, 0.2470, 0.2435, 0.2616}},
		{"CIFAR-100", CIFAR100Mean, CIFAR100Std, [6]float64{0.5071, 0.4865, 0.4409, 0.2673, 0.2564, 0.2762}},
		{"Tiny ImageNet", TinyImageNetMean, TinyImageNetStd, [6]float64{0.4802, 0.4481, 0.3975, 0.2770, 0.2691, 0.2821}},
	} {
		if got := [6]float64{c.mean[0], c.mean[1], c.mean[2], c.std[0], c.std[1], c.std[2]}; got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
