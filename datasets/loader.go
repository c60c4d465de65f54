package datasets

import (
	"errors"
	"fmt"
	"math/rand"
)

// Batch is a normalised mini-batch.
type Batch struct {
	X     []float32 // n*C*H*W normalised (x/255-mean_c)/std_c
	Y     []int     // n labels
	N     int       // number of real samples in this batch (the last batch may be partial)
	Index []int     // the split indices of the samples, in batch order
	// C, H and W are the shape of one sample, set by the Loader so that a model can name a mismatch ("batch is
	// 1×28×28 but the model takes 3×32×32"); 0 in a batch built by hand, whose size alone is checked then.
	C, H, W int
}

// Loader iterates a Split in mini-batches. It does not modify the split
// and holds no per-iteration state, so one Loader may be used from several
// goroutines as long as each uses its own Batch. The split's shape, Images
// and Labels must not change while the Loader is in use (they are checked
// once, by NewLoader).
type Loader struct {
	split     *Split
	batchSize int
	shuffle   bool
	seed      int64
	tables    []*[256]float32 // per channel: normalised value of each raw pixel value
	opts      LoaderOptions   // augmentation and Stream parallelism (defaults resolved)
}

// epochSeedStride separates the random streams of successive epochs.
const epochSeedStride = 1000003

// NewLoader returns a Loader over s in batches of batchSize samples. A
// batchSize <= 0 or an inconsistent split (see Split.Validate) is an error.
// With shuffle, each epoch visits the samples in a permutation determined
// by (seed, epoch) only; see Epoch. It does not augment; it is
// NewLoaderOptions with the zero LoaderOptions.
func NewLoader(s *Split, batchSize int, shuffle bool, seed int64) (*Loader, error) {
	return NewLoaderOptions(s, batchSize, shuffle, seed, LoaderOptions{})
}

// newLoader builds a Loader; opts must already be checked and resolved.
func newLoader(s *Split, batchSize int, shuffle bool, seed int64, opts LoaderOptions) (*Loader, error) {
	if batchSize <= 0 {
		return nil, fmt.Errorf("datasets: batch size must be positive, got %d", batchSize)
	}
	if s == nil {
		return nil, errors.New("datasets: new loader: nil split")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("datasets: new loader: %w", err)
	}
	tables := make([]*[256]float32, s.C)
	for c := range tables {
		tables[c] = normTable(s.Mean[c], s.Std[c])
	}
	return &Loader{split: s, batchSize: batchSize, shuffle: shuffle, seed: seed, tables: tables, opts: opts}, nil
}

// Split returns the split the loader iterates.
func (l *Loader) Split() *Split { return l.split }

// BatchSize returns the (maximum) number of samples per batch.
func (l *Loader) BatchSize() int { return l.batchSize }

// NumBatches returns ceil(N/batchSize): the last partial batch is included,
// never dropped.
func (l *Loader) NumBatches() int {
	return (l.split.N + l.batchSize - 1) / l.batchSize
}

// Epoch returns the sample order for that epoch, a fresh slice of the N
// split indices: the identity when the loader does not shuffle; otherwise
// rand.New(rand.NewSource(seed + epoch*1000003)).Perm(N) from math/rand, so
// the order depends only on (seed, epoch), not on which epochs were asked
// for before.
func (l *Loader) Epoch(epoch int) []int {
	n := l.split.N
	if !l.shuffle {
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		return order
	}
	rng := rand.New(rand.NewSource(l.seed + int64(epoch)*epochSeedStride))
	return rng.Perm(n)
}

// Batch fills dst with batch b of order, i.e. the samples
// order[b*batchSize : min((b+1)*batchSize, len(order))], normalised. It
// reuses dst's slices when their capacity is large enough and otherwise
// allocates. dst.N is the number of samples written: batchSize, fewer for
// the last batch, and 0 if b is out of range or dst is nil (nothing is
// written then). Entries of order outside [0, N) are skipped, so order
// should come from Epoch (or be a subset of it).
//
// Batch never augments, even when the loader was made with
// LoaderOptions.Augment (it does not know the epoch, on which the
// augmentation depends): use EpochBatch or Stream for training batches.
func (l *Loader) Batch(order []int, b int, dst *Batch) {
	l.fill(0, order, b, dst, false)
}

// fill is Batch with the epoch and whether to augment (see EpochBatch).
func (l *Loader) fill(epoch int, order []int, b int, dst *Batch, augment bool) {
	if dst == nil {
		return
	}
	s := l.split
	lo := b * l.batchSize
	if b < 0 || lo >= len(order) || lo < 0 {
		dst.X, dst.Y, dst.Index, dst.N = dst.X[:0], dst.Y[:0], dst.Index[:0], 0
		return
	}
	hi := min(lo+l.batchSize, len(order))
	want := hi - lo
	sz := s.ImageSize()
	dst.X = grow(dst.X, want*sz)
	dst.Y = grow(dst.Y, want)
	dst.Index = grow(dst.Index, want)
	k := 0
	for _, idx := range order[lo:hi] {
		if idx < 0 || idx >= s.N {
			continue
		}
		img := s.Images[idx*sz : (idx+1)*sz]
		x := dst.X[k*sz : (k+1)*sz]
		if augment {
			cropFlipInto(x, img, s.C, s.H, s.W, RandomCropFlip(l.seed, epoch, idx), func(c int) *[256]float32 { return l.tables[c] })
		} else {
			l.normaliseInto(x, img)
		}
		dst.Y[k] = s.Labels[idx]
		dst.Index[k] = idx
		k++
	}
	dst.X, dst.Y, dst.Index, dst.N = dst.X[:k*sz], dst.Y[:k], dst.Index[:k], k
	dst.C, dst.H, dst.W = s.C, s.H, s.W
}

// normaliseInto writes the normalised pixels of the raw image img to x.
func (l *Loader) normaliseInto(x []float32, img []uint8) {
	hw := l.split.H * l.split.W
	for c, t := range l.tables {
		xc, ic := x[c*hw:(c+1)*hw], img[c*hw:(c+1)*hw]
		for p, v := range ic {
			xc[p] = t[v]
		}
	}
}

// grow returns s resliced to length n, reusing its array when the capacity
// suffices and allocating a new one otherwise. Contents are not preserved.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
