package datasets

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// tinySplit returns a consistent single-channel split of n 2×3 images whose
// pixels are 0, 1, 2, ... (mod 256) and whose labels are i mod 10.
func tinySplit(n int) *Split {
	s := &Split{
		Name: "tiny", N: n, C: 1, H: 2, W: 3,
		Images:  seq(n*6, 0),
		Labels:  make([]int, n),
		Classes: MNISTClasses,
		Mean:    []float64{0.5},
		Std:     []float64{0.25},
	}
	for i := range s.Labels {
		s.Labels[i] = i % 10
	}
	return s
}

func TestSplitValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(s *Split)
		want   string // "" = valid
	}{
		{name: "valid", modify: func(*Split) {}, want: ""},
		{name: "empty split", modify: func(s *Split) { s.N, s.Images, s.Labels = 0, nil, nil }, want: ""},
		{name: "zero channels", modify: func(s *Split) { s.C = 0 }, want: "bad shape"},
		{name: "negative N", modify: func(s *Split) { s.N = -1 }, want: "bad shape"},
		{name: "short images", modify: func(s *Split) { s.Images = s.Images[:5] }, want: "5 image bytes, want N*C*H*W"},
		{name: "short labels", modify: func(s *Split) { s.Labels = s.Labels[:1] }, want: "1 labels, want N = 4"},
		{name: "missing std", modify: func(s *Split) { s.Std = nil }, want: "1 means and 0 stds"},
		{name: "zero std", modify: func(s *Split) { s.Std = []float64{0} }, want: "channel 0: mean 0.5, std 0"},
		{name: "NaN mean", modify: func(s *Split) { s.Mean = []float64{math.NaN()} }, want: "mean NaN"},
		{name: "label out of range", modify: func(s *Split) { s.Labels[2] = 10 }, want: "label 10 of sample 2 out of range [0, 10)"},
		{name: "negative label", modify: func(s *Split) { s.Labels[3] = -1 }, want: "label -1 of sample 3"},
		{name: "labels unchecked without classes", modify: func(s *Split) { s.Classes = nil; s.Labels[0] = 99 }, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tinySplit(4)
			tc.modify(s)
			err := s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"tiny"`) {
				t.Fatalf("Validate error = %v, want one naming the split and containing %q", err, tc.want)
			}
		})
	}
	if err := (*Split)(nil).Validate(); err == nil || !strings.Contains(err.Error(), "nil split") {
		t.Fatalf("nil split: error = %v", err)
	}
}

func TestSplitImage(t *testing.T) {
	s := tinySplit(3)
	tests := []struct {
		i    int
		want []uint8
	}{
		{0, []uint8{0, 1, 2, 3, 4, 5}},
		{2, []uint8{12, 13, 14, 15, 16, 17}},
		{3, nil},
		{-1, nil},
	}
	for _, tc := range tests {
		if got := s.Image(tc.i); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
			t.Errorf("Image(%d) = %v, want %v", tc.i, got, tc.want)
		}
	}
	if got := s.ImageSize(); got != 6 {
		t.Errorf("ImageSize = %d, want 6", got)
	}
}

func TestSplitNormalise(t *testing.T) {
	s := &Split{
		Name: "rgb", N: 2, C: 3, H: 1, W: 2,
		Images: []uint8{
			0, 255, 51, 102, 127, 128, // sample 0: R, G, B planes of 2 pixels
			10, 20, 30, 40, 50, 60, // sample 1
		},
		Labels: []int{0, 1},
		Mean:   []float64{0.5, 0.25, 0},
		Std:    []float64{0.5, 0.2, 1},
	}
	dst := make([]float32, 6)
	if err := s.Normalise(dst, 0); err != nil {
		t.Fatal(err)
	}
	want := []float32{
		-1, 1, // (0-0.5)/0.5, (1-0.5)/0.5
		float32((51.0/255 - 0.25) / 0.2), float32((102.0/255 - 0.25) / 0.2), // -0.25, 0.75
		float32(127.0 / 255), float32(128.0 / 255),
	}
	if !slices.Equal(dst, want) {
		t.Fatalf("Normalise(0) = %v, want %v", dst, want)
	}
	if math.Abs(float64(dst[2])-(-0.25)) > 1e-6 || math.Abs(float64(dst[3])-0.75) > 1e-6 {
		t.Fatalf("green channel = %v, %v, want -0.25, 0.75", dst[2], dst[3])
	}
	if err := s.Normalise(dst, 1); err != nil {
		t.Fatal(err)
	}
	if want := float32((10.0/255 - 0.5) / 0.5); dst[0] != want {
		t.Fatalf("Normalise(1)[0] = %v, want %v", dst[0], want)
	}
	for _, tc := range []struct {
		name string
		dst  []float32
		i    int
		want string
	}{
		{"index too large", dst, 2, "index out of range [0, 2)"},
		{"negative index", dst, -1, "index out of range"},
		{"short dst", dst[:5], 0, "dst has 5 elements, want 6"},
	} {
		if err := s.Normalise(tc.dst, tc.i); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestNormTableMatchesNormalise(t *testing.T) {
	tab := normTable(MNISTMean, MNISTStd)
	for _, v := range []int{0, 1, 128, 254, 255} {
		want := float32((float64(v)/255 - MNISTMean) / MNISTStd)
		if tab[v] != want {
			t.Errorf("normTable[%d] = %v, want %v", v, tab[v], want)
		}
	}
	if math.Abs(float64(tab[0])-(-0.4242129)) > 1e-6 || math.Abs(float64(tab[255])-2.8214867) > 1e-6 {
		t.Errorf("MNIST normalised range = [%v, %v], want ≈ [-0.4242, 2.8215]", tab[0], tab[255])
	}
}
