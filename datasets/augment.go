package datasets

import "fmt"

// Training augmentation: the standard CIFAR / Tiny ImageNet recipe of a
// random crop of the original size from the image padded with AugmentPad
// zero pixels on every side, followed by a random horizontal flip with
// probability 1/2 (torchvision's RandomCrop(size, padding=4) then
// RandomHorizontalFlip()). As in torchvision, where the padding is applied
// to the uint8 (or [0, 1]) image before Normalize, the padding is raw
// pixel value 0, which normalises to (0 - mean)/std, not to 0.
//
// The crop and flip of a sample are a pure function of (seed, epoch,
// sample index in the split), computed by hashing, not drawn from a shared
// random stream: every sample gets the same augmentation in a given epoch
// whatever the batch size, the order of the batches, or the number of
// goroutines building them.

// AugmentPad is the zero padding, in pixels on each side, of the random
// crop. The crop's corner is uniform over the (2·AugmentPad+1)² positions.
const AugmentPad = 4

// CropFlip is the augmentation of one sample: the top-left corner of the
// crop in the padded image and whether the crop is mirrored.
type CropFlip struct {
	Top, Left int  // in [0, 2*AugmentPad]; AugmentPad means no shift
	Flip      bool // mirror left-right after cropping
}

// RandomCropFlip returns the augmentation of sample index (its index in
// the split) in epoch for seed. The three choices come from a SplitMix64
// hash of (seed, epoch, index); Top and Left use 32 bits each, so their
// bias from uniform is below 2⁻²⁸.
func RandomCropFlip(seed int64, epoch, index int) CropFlip {
	h := mix64(mix64(mix64(uint64(seed))^uint64(int64(epoch))) ^ uint64(int64(index)))
	const n = 2*AugmentPad + 1
	return CropFlip{
		Top:  int((h & 0xffffffff) * n >> 32),
		Left: int((h >> 32) * n >> 32),
		Flip: mix64(h)&1 == 1,
	}
}

// mix64 is the SplitMix64 output function: a bijective hash of 64 bits
// whose outputs pass statistical tests of randomness for consecutive
// inputs.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Apply writes to dst the augmented copy of the raw c×h×w image src (CHW):
// pixel (y, x) of each channel is src pixel (y+Top-AugmentPad,
// x'+Left-AugmentPad) with x' = w-1-x when flipped and x otherwise, or 0
// where that falls in the padding. dst and src must both hold c*h*w bytes
// and must not overlap.
func (cf CropFlip) Apply(dst, src []uint8, c, h, w int) error {
	if c <= 0 || h <= 0 || w <= 0 || len(src) != c*h*w || len(dst) != c*h*w {
		return fmt.Errorf("datasets: crop/flip of a %d×%d×%d image: src has %d bytes and dst %d, want %d", c, h, w, len(src), len(dst), c*h*w)
	}
	var identity [256]uint8 // raw values unchanged; the padding is identity[0] = 0
	for i := range identity {
		identity[i] = uint8(i)
	}
	cropFlipInto(dst, src, c, h, w, cf, func(int) *[256]uint8 { return &identity })
	return nil
}

// cropFlipInto applies cf to the c×h×w image src, writing into dst through
// the per-channel lookup table of table(c), indexed by the raw value (the
// padding is the raw value 0). It is shared by CropFlip.Apply (identity
// table, bytes) and the Loader (normalisation tables, float32).
func cropFlipInto[T any](dst []T, src []uint8, c, h, w int, cf CropFlip, table func(c int) *[256]T) {
	hw := h * w
	for ch := range c {
		t := table(ch)
		pad := t[0]
		dc, sc := dst[ch*hw:(ch+1)*hw], src[ch*hw:(ch+1)*hw]
		for y := range h {
			row := dc[y*w : (y+1)*w]
			sy := y + cf.Top - AugmentPad
			if sy < 0 || sy >= h {
				for x := range row {
					row[x] = pad
				}
				continue
			}
			// Output x reads source x+d (or w-1-x+d when flipped); the
			// x for which that is inside the image form one interval
			// [lo, hi), padding on either side.
			srow := sc[sy*w : (sy+1)*w]
			d := cf.Left - AugmentPad
			lo, hi := max(0, -d), min(w, w-d)
			if cf.Flip {
				lo, hi = max(0, d), min(w, w+d)
			}
			lo = min(lo, w)
			hi = max(hi, lo)
			for x := range lo {
				row[x] = pad
			}
			for x := hi; x < w; x++ {
				row[x] = pad
			}
			if cf.Flip {
				for x := lo; x < hi; x++ {
					row[x] = t[srow[w-1-x+d]]
				}
			} else {
				for x := lo; x < hi; x++ {
					row[x] = t[srow[x+d]]
				}
			}
		}
	}
}

// AugmentsByDefault reports whether training on s uses the crop-and-flip augmentation unless told otherwise: yes
// for the 32×32 and 64×64 colour sets (CIFAR, Tiny ImageNet, such image folders), no for MNIST-like digits, where a
// horizontal flip changes the class's appearance.
func AugmentsByDefault(s *Split) bool {
	return s.C == 3 && s.H == s.W && (s.H == 32 || s.H == 64)
}

// ParseAugment resolves an "auto", "on" or "off" setting for s.
func ParseAugment(setting string, s *Split) (bool, error) {
	switch setting {
	case "auto", "":
		return AugmentsByDefault(s), nil
	case "on", "true":
		return true, nil
	case "off", "false":
		return false, nil
	}
	return false, fmt.Errorf("augmentation setting %q is not auto, on or off", setting)
}
