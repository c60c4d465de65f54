package datasets

import (
	"errors"
	"fmt"
	"math"
)

// Split is one split (train or test) of an image classification dataset held in memory as raw uint8 pixels, NCHW.
type Split struct {
	Name       string    // e.g. "mnist/train"
	Images     []uint8   // N*C*H*W, channel-major per image
	Labels     []int     // N
	N, C, H, W int       // number of samples, channels, height, width
	Classes    []string  // class names, index = label
	Mean, Std  []float64 // per-channel normalisation constants (x/255 - mean)/std
}

// ImageSize returns the number of bytes of one sample, C*H*W.
func (s *Split) ImageSize() int { return s.C * s.H * s.W }

// Image returns the C*H*W raw pixels of sample i (a sub-slice of s.Images,
// not a copy), or nil if i is out of range or the split is inconsistent.
func (s *Split) Image(i int) []uint8 {
	sz := s.ImageSize()
	if i < 0 || i >= s.N || sz <= 0 || (i+1)*sz > len(s.Images) {
		return nil
	}
	return s.Images[i*sz : (i+1)*sz : (i+1)*sz]
}

// Validate checks that the split's fields are consistent: positive C, H, W;
// len(Images) == N*C*H*W; len(Labels) == N; one finite Mean and one finite,
// positive Std per channel; and, when Classes is set, every label in
// [0, len(Classes)). The error names the split.
func (s *Split) Validate() error {
	if s == nil {
		return errors.New("datasets: nil split")
	}
	if s.N < 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("datasets: split %q: bad shape N=%d C=%d H=%d W=%d (want N >= 0 and C, H, W > 0)", s.Name, s.N, s.C, s.H, s.W)
	}
	if want := s.N * s.C * s.H * s.W; len(s.Images) != want {
		return fmt.Errorf("datasets: split %q: %d image bytes, want N*C*H*W = %d*%d*%d*%d = %d", s.Name, len(s.Images), s.N, s.C, s.H, s.W, want)
	}
	if len(s.Labels) != s.N {
		return fmt.Errorf("datasets: split %q: %d labels, want N = %d", s.Name, len(s.Labels), s.N)
	}
	if len(s.Mean) != s.C || len(s.Std) != s.C {
		return fmt.Errorf("datasets: split %q: %d means and %d stds, want one per channel (C = %d)", s.Name, len(s.Mean), len(s.Std), s.C)
	}
	for c := range s.C {
		m, sd := s.Mean[c], s.Std[c]
		if math.IsNaN(m) || math.IsInf(m, 0) || !(sd > 0) || math.IsInf(sd, 0) {
			return fmt.Errorf("datasets: split %q: channel %d: mean %v, std %v (want finite mean and finite std > 0)", s.Name, c, m, sd)
		}
	}
	if k := len(s.Classes); k > 0 {
		for i, l := range s.Labels {
			if l < 0 || l >= k {
				return fmt.Errorf("datasets: split %q: label %d of sample %d out of range [0, %d)", s.Name, l, i, k)
			}
		}
	}
	return nil
}

// Normalise writes the C*H*W normalised pixels of sample i into
// dst[:C*H*W], each as float32((x/255 - Mean[c]) / Std[c]) for its channel c.
// It returns an error if i is out of range, dst is too short, or the
// split's Mean/Std do not cover its channels.
func (s *Split) Normalise(dst []float32, i int) error {
	img := s.Image(i)
	if img == nil {
		return fmt.Errorf("datasets: split %q: normalise sample %d: index out of range [0, %d)", s.Name, i, s.N)
	}
	if len(dst) < len(img) {
		return fmt.Errorf("datasets: split %q: normalise sample %d: dst has %d elements, want %d", s.Name, i, len(dst), len(img))
	}
	if len(s.Mean) < s.C || len(s.Std) < s.C {
		return fmt.Errorf("datasets: split %q: normalise: %d means and %d stds for %d channels", s.Name, len(s.Mean), len(s.Std), s.C)
	}
	hw := s.H * s.W
	for c := range s.C {
		for p, x := range img[c*hw : (c+1)*hw] {
			dst[c*hw+p] = normalisePixel(x, s.Mean[c], s.Std[c])
		}
	}
	return nil
}

// normalisePixel is the single definition of the normalisation formula,
// shared by Split.Normalise and the Loader's lookup tables so both give
// bit-identical results.
func normalisePixel(x uint8, mean, std float64) float32 {
	return float32((float64(x)/255 - mean) / std)
}

// normTable returns the 256 normalised values of one channel, indexed by
// the raw pixel value.
func normTable(mean, std float64) *[256]float32 {
	var t [256]float32
	for v := range t {
		t[v] = normalisePixel(uint8(v), mean, std)
	}
	return &t
}
