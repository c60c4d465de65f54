package datasets

import (
	"math/rand"
	"slices"
	"testing"
)

func TestRandomCropFlipDeterministicAndUniform(t *testing.T) {
	const n = 2 * AugmentPad
	seen := map[CropFlip]int{}
	const samples = 81 * 2 * 200
	for i := range samples {
		cf := RandomCropFlip(42, 3, i)
		if cf != RandomCropFlip(42, 3, i) {
			t.Fatal("not deterministic")
		}
		if cf.Top < 0 || cf.Top > n || cf.Left < 0 || cf.Left > n {
			t.Fatalf("sample %d: %+v out of range [0, %d]", i, cf, n)
		}
		seen[cf]++
	}
	if len(seen) != (n+1)*(n+1)*2 {
		t.Fatalf("%d distinct crop/flips, want %d", len(seen), (n+1)*(n+1)*2)
	}
	for cf, k := range seen { // expected 200 each; 5 sigma ≈ 70
		if k < 130 || k > 270 {
			t.Errorf("%+v drawn %d times, want about 200", cf, k)
		}
	}
	// Other epochs and seeds give other augmentations.
	same := 0
	for i := range 1000 {
		if RandomCropFlip(42, 3, i) == RandomCropFlip(42, 4, i) {
			same++
		}
		if RandomCropFlip(42, 3, i) == RandomCropFlip(43, 3, i) {
			same++
		}
	}
	if same > 40 { // chance: 2000/162 ≈ 12
		t.Errorf("%d of 2000 augmentations unchanged by a new epoch or seed", same)
	}
}

// referenceCropFlip augments a c×h×w image the literal way: pad with
// zeros, crop, mirror.
func referenceCropFlip(src []uint8, c, h, w int, cf CropFlip) []uint8 {
	const p = AugmentPad
	ph, pw := h+2*p, w+2*p
	padded := make([]uint8, c*ph*pw)
	for ch := range c {
		for y := range h {
			for x := range w {
				padded[ch*ph*pw+(y+p)*pw+x+p] = src[ch*h*w+y*w+x]
			}
		}
	}
	out := make([]uint8, c*h*w)
	for ch := range c {
		for y := range h {
			for x := range w {
				v := padded[ch*ph*pw+(y+cf.Top)*pw+x+cf.Left]
				ox := x
				if cf.Flip {
					ox = w - 1 - x
				}
				out[ch*h*w+y*w+ox] = v
			}
		}
	}
	return out
}

func TestCropFlipApply(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	// Every crop and flip, on images smaller and larger than the padding.
	for _, shape := range [][3]int{{1, 1, 1}, {2, 3, 2}, {1, 4, 3}, {3, 5, 7}, {1, 9, 12}} {
		c, h, w := shape[0], shape[1], shape[2]
		src := make([]uint8, c*h*w)
		for i := range src {
			src[i] = uint8(1 + rng.Intn(255)) // no zeros, so padding shows
		}
		dst := make([]uint8, len(src))
		for top := range 2*AugmentPad + 1 {
			for left := range 2*AugmentPad + 1 {
				for _, flip := range []bool{false, true} {
					cf := CropFlip{Top: top, Left: left, Flip: flip}
					if err := cf.Apply(dst, src, c, h, w); err != nil {
						t.Fatal(err)
					}
					if want := referenceCropFlip(src, c, h, w, cf); !slices.Equal(dst, want) {
						t.Fatalf("%v %+v: got %v, want %v", shape, cf, dst, want)
					}
				}
			}
		}
	}
	const c, h, w = 3, 5, 7
	src := make([]uint8, c*h*w)
	for i := range src {
		src[i] = uint8(1 + rng.Intn(255))
	}
	dst := make([]uint8, len(src))
	// The centre crop without flip is the identity; a flip mirrors rows.
	if err := (CropFlip{Top: AugmentPad, Left: AugmentPad}).Apply(dst, src, c, h, w); err != nil || !slices.Equal(dst, src) {
		t.Fatalf("centre crop is not the identity")
	}
	small := []uint8{1, 2, 3, 4} // 1×2×2
	out := make([]uint8, 4)
	if err := (CropFlip{Top: AugmentPad, Left: AugmentPad, Flip: true}).Apply(out, small, 1, 2, 2); err != nil || !slices.Equal(out, []uint8{2, 1, 4, 3}) {
		t.Fatalf("flip of %v = %v, want [2 1 4 3]", small, out)
	}
	if err := (CropFlip{Top: AugmentPad + 1, Left: AugmentPad - 1}).Apply(out, small, 1, 2, 2); err != nil || !slices.Equal(out, []uint8{0, 3, 0, 0}) {
		t.Fatalf("shifted crop of %v = %v, want [0 3 0 0]", small, out)
	}
	if err := (CropFlip{}).Apply(out[:3], small, 1, 2, 2); err == nil {
		t.Fatal("short dst accepted")
	}
	if err := (CropFlip{}).Apply(out, small, 0, 2, 2); err == nil {
		t.Fatal("zero channels accepted")
	}
}

// rgbSplit returns a split of n random c×h×w images with CIFAR constants.
func rgbSplit(n, h, w int) *Split {
	rng := rand.New(rand.NewSource(int64(n*h + w)))
	s := &Split{Name: "rgb", N: n, C: 3, H: h, W: w, Images: make([]uint8, n*3*h*w), Labels: make([]int, n),
		Classes: CIFAR10Classes, Mean: CIFAR10Mean[:], Std: CIFAR10Std[:]}
	for i := range s.Images {
		s.Images[i] = uint8(rng.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = rng.Intn(10)
	}
	return s
}

func TestLoaderAugment(t *testing.T) {
	s := rgbSplit(23, 6, 5)
	const seed = 9
	ref := func(epoch, idx int) []float32 {
		raw := make([]uint8, s.ImageSize())
		if err := RandomCropFlip(seed, epoch, idx).Apply(raw, s.Image(idx), s.C, s.H, s.W); err != nil {
			t.Fatal(err)
		}
		aug := *s
		aug.N, aug.Images, aug.Labels = 1, raw, []int{0}
		out := make([]float32, len(raw))
		if err := aug.Normalise(out, 0); err != nil {
			t.Fatal(err)
		}
		return out
	}
	sz := s.ImageSize()
	padSeen := false
	for _, batch := range []int{1, 4, 7, 23} {
		for _, shuffle := range []bool{false, true} {
			l, err := NewLoaderOptions(s, batch, shuffle, seed, LoaderOptions{Augment: true})
			if err != nil {
				t.Fatal(err)
			}
			for epoch := range 3 {
				order := l.Epoch(epoch)
				var b Batch
				for bi := range l.NumBatches() {
					l.EpochBatch(epoch, order, bi, &b)
					for k, idx := range b.Index {
						got := b.X[k*sz : (k+1)*sz]
						if want := ref(epoch, idx); !slices.Equal(got, want) {
							t.Fatalf("batch %d shuffle %v epoch %d sample %d: augmented pixels differ from Apply+Normalise", batch, shuffle, epoch, idx)
						}
						// Padding is raw 0, i.e. -mean/std, never 0.
						if slices.Contains(got[:s.H*s.W], float32((0-CIFAR10Mean[0])/CIFAR10Std[0])) {
							padSeen = true
						}
					}
				}
			}
		}
	}
	if !padSeen {
		t.Error("no padded pixel seen")
	}
	// Batch never augments; EpochBatch without Augment equals Batch.
	aug, _ := NewLoaderOptions(s, 5, true, seed, LoaderOptions{Augment: true})
	plain, _ := NewLoader(s, 5, true, seed)
	var a, b Batch
	aug.Batch(aug.Epoch(1), 2, &a)
	plain.EpochBatch(1, plain.Epoch(1), 2, &b)
	if !slices.Equal(a.X, b.X) || !slices.Equal(a.Index, b.Index) {
		t.Fatal("Batch of an augmenting loader, or EpochBatch of a plain one, is not the plain batch")
	}
}

func TestParseAugment(t *testing.T) {
	cifar := &Split{C: 3, H: 32, W: 32}
	mnist := &Split{C: 1, H: 28, W: 28}
	tiny := &Split{C: 3, H: 64, W: 64}
	for _, c := range []struct {
		setting string
		s       *Split
		want    bool
	}{{"auto", cifar, true}, {"auto", tiny, true}, {"auto", mnist, false}, {"", mnist, false}, {"on", mnist, true}, {"off", cifar, false}} {
		got, err := ParseAugment(c.setting, c.s)
		if err != nil || got != c.want {
			t.Errorf("ParseAugment(%q, %dx%dx%d) = %v, %v; want %v", c.setting, c.s.C, c.s.H, c.s.W, got, err, c.want)
		}
	}
	if _, err := ParseAugment("sometimes", cifar); err == nil {
		t.Fatal("an unknown setting should fail")
	}
}
