package datasets

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"
)

// sequentialEpoch returns copies of the batches of an epoch built one by
// one with EpochBatch.
func sequentialEpoch(l *Loader, epoch int) []Batch {
	order := l.Epoch(epoch)
	out := make([]Batch, l.NumBatches())
	for b := range out {
		l.EpochBatch(epoch, order, b, &out[b])
	}
	return out
}

func TestStreamMatchesSequential(t *testing.T) {
	s := rgbSplit(53, 6, 6)
	for _, opts := range []LoaderOptions{
		{Augment: true, Workers: 1, Prefetch: 1},
		{Augment: true, Workers: 2, Prefetch: 1},
		{Augment: true, Workers: 4, Prefetch: 2},
		{Augment: true, Workers: 3, Prefetch: 8},
		{Augment: false, Workers: 2, Prefetch: 3},
		{Augment: true}, // defaults
	} {
		l, err := NewLoaderOptions(s, 8, true, 5, opts)
		if err != nil {
			t.Fatal(err)
		}
		for epoch := range 2 {
			want := sequentialEpoch(l, epoch)
			st := l.Stream(context.Background(), epoch)
			buffers := map[*Batch]bool{}
			i := 0
			for b, ok := st.Next(); ok; b, ok = st.Next() {
				buffers[b] = true
				if i >= len(want) || b.N != want[i].N || !slices.Equal(b.X, want[i].X) || !slices.Equal(b.Y, want[i].Y) || !slices.Equal(b.Index, want[i].Index) {
					t.Fatalf("%+v epoch %d: batch %d differs from EpochBatch", opts, epoch, i)
				}
				i++
			}
			if i != len(want) || st.Err() != nil {
				t.Fatalf("%+v: %d batches, want %d; err %v", opts, i, len(want), st.Err())
			}
			if max := l.Options().Prefetch + 1; len(buffers) > max {
				t.Errorf("%+v: %d batch buffers, want at most Prefetch+1 = %d", opts, len(buffers), max)
			}
			st.Close() // after the end: harmless
			if _, ok := st.Next(); ok {
				t.Fatal("Next after the end returned a batch")
			}
		}
	}
}

// waitGoroutines waits until at most n goroutines run, failing t after a
// while.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("%d goroutines still running, want at most %d", runtime.NumGoroutine(), n)
}

func TestStreamCloseAndCancel(t *testing.T) {
	s := rgbSplit(40, 4, 4)
	l, err := NewLoaderOptions(s, 4, true, 1, LoaderOptions{Augment: true, Workers: 3, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()

	// Close in the middle.
	st := l.Stream(context.Background(), 0)
	for range 3 {
		if _, ok := st.Next(); !ok {
			t.Fatal("stream ended early")
		}
	}
	st.Close()
	st.Close()
	if _, ok := st.Next(); ok || !errors.Is(st.Err(), context.Canceled) {
		t.Fatalf("after Close: err %v, want context.Canceled", st.Err())
	}
	select {
	case <-st.done:
	default:
		t.Fatal("Close returned before the goroutines exited")
	}

	// Cancelling the context stops the stream.
	ctx, cancel := context.WithCancel(context.Background())
	st = l.Stream(ctx, 1)
	if _, ok := st.Next(); !ok {
		t.Fatal("no first batch")
	}
	cancel()
	n := 1
	for _, ok := st.Next(); ok; _, ok = st.Next() {
		n++
	}
	if n == l.NumBatches() || !errors.Is(st.Err(), context.Canceled) {
		t.Fatalf("after cancel: %d batches, err %v", n, st.Err())
	}
	st.Close()

	// A stream left alone after filling its buffers waits; Close frees it.
	st = l.Stream(context.Background(), 2)
	time.Sleep(10 * time.Millisecond)
	st.Close()

	// An already-cancelled context gives nothing.
	st = l.Stream(ctx, 3)
	if _, ok := st.Next(); ok {
		// A batch may already be built; the stream must still stop.
		for _, ok := st.Next(); ok; _, ok = st.Next() {
		}
	}
	if st.Err() == nil {
		t.Fatal("cancelled context: no error")
	}
	st.Close()
	waitGoroutines(t, base)

	// An empty split streams nothing, without error.
	empty, _ := NewLoaderOptions(rgbSplit(0, 4, 4), 4, true, 1, LoaderOptions{})
	st = empty.Stream(context.Background(), 0)
	if _, ok := st.Next(); ok || st.Err() != nil {
		t.Fatalf("empty split: err %v", st.Err())
	}
	st.Close()
}

func TestNewLoaderOptions(t *testing.T) {
	s := rgbSplit(4, 2, 2)
	for _, opts := range []LoaderOptions{{Workers: -1}, {Prefetch: -2}} {
		if l, err := NewLoaderOptions(s, 2, true, 0, opts); err == nil || l != nil {
			t.Errorf("%+v accepted", opts)
		}
	}
	l, err := NewLoaderOptions(s, 2, true, 0, LoaderOptions{Augment: true})
	if err != nil {
		t.Fatal(err)
	}
	o := l.Options()
	if !o.Augment || o.Workers != max(1, runtime.GOMAXPROCS(0)/2) || o.Prefetch != max(2, 2*o.Workers) {
		t.Errorf("defaults resolved to %+v", o)
	}
	if _, err := NewLoaderOptions(nil, 2, true, 0, LoaderOptions{}); err == nil {
		t.Error("nil split accepted")
	}
}

// BenchmarkStreamAugmentCIFARShape streams an augmented epoch of 10,000
// random 3×32×32 images in batches of 128 with the default workers.
func BenchmarkStreamAugmentCIFARShape(b *testing.B) {
	s := rgbSplit(10000, 32, 32)
	l, err := NewLoaderOptions(s, 128, true, 1, LoaderOptions{Augment: true})
	if err != nil {
		b.Fatal(err)
	}
	images := 0
	epoch := 0
	for b.Loop() {
		st := l.Stream(context.Background(), epoch)
		for batch, ok := st.Next(); ok; batch, ok = st.Next() {
			images += batch.N
		}
		st.Close()
		epoch++
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

func TestStreamFromMiddle(t *testing.T) {
	s := rgbSplit(53, 6, 6)
	l, err := NewLoaderOptions(s, 8, true, 5, LoaderOptions{Augment: true, Workers: 2, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := sequentialEpoch(l, 1)
	for _, start := range []int{0, 3, len(want) - 1, len(want), len(want) + 4} {
		st := l.StreamFrom(context.Background(), 1, start)
		i := start
		for b, ok := st.Next(); ok; b, ok = st.Next() {
			if i >= len(want) || !slices.Equal(b.X, want[i].X) || !slices.Equal(b.Index, want[i].Index) {
				t.Fatalf("start %d: batch %d differs from EpochBatch", start, i)
			}
			i++
		}
		if i != max(start, len(want)) || st.Err() != nil {
			t.Fatalf("start %d: ended at batch %d, err %v", start, i, st.Err())
		}
		st.Close()
	}
}
