package datasets

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// LoaderOptions configures a Loader beyond NewLoader's arguments.
type LoaderOptions struct {
	// Augment applies the training augmentation (random crop with
	// AugmentPad pixels of zero padding, then random horizontal flip; see
	// RandomCropFlip) in EpochBatch and Stream. Use it for training
	// loaders only; evaluation loaders should leave it false. Batch never
	// augments.
	Augment bool
	// Workers is the number of goroutines building batches in Stream; 0
	// means max(1, GOMAXPROCS/2), leaving the other half of the CPUs to
	// the training that consumes them. The batches do not depend on it.
	Workers int
	// Prefetch is the number of batches Stream builds ahead of the
	// consumer; 0 means max(2, 2*Workers). A stream holds at most
	// Prefetch+1 batches in memory (those in flight and the one handed
	// out), whatever the consumer does.
	Prefetch int
}

// NewLoaderOptions is NewLoader with options: augmentation and the
// parallelism of Stream. Negative Workers or Prefetch are errors.
func NewLoaderOptions(s *Split, batchSize int, shuffle bool, seed int64, opts LoaderOptions) (*Loader, error) {
	if opts.Workers < 0 || opts.Prefetch < 0 {
		return nil, fmt.Errorf("datasets: loader options: Workers %d and Prefetch %d must not be negative", opts.Workers, opts.Prefetch)
	}
	if opts.Workers == 0 {
		opts.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = max(2, 2*opts.Workers)
	}
	return newLoader(s, batchSize, shuffle, seed, opts)
}

// Options returns the loader's options, with defaults resolved.
func (l *Loader) Options() LoaderOptions { return l.opts }

// EpochBatch is Batch for a given epoch: it fills dst with batch b of
// order (which should be Epoch(epoch)), augmenting each sample with
// RandomCropFlip(seed, epoch, index) when the loader augments. A sample's
// pixels thus depend only on (seed, epoch, index), never on the batch size
// or on which goroutine builds the batch.
func (l *Loader) EpochBatch(epoch int, order []int, b int, dst *Batch) {
	l.fill(epoch, order, b, dst, l.opts.Augment)
}

// Stream starts building the batches of an epoch in the background and
// returns them in order through BatchStream.Next: batch b is exactly what
// EpochBatch(epoch, Epoch(epoch), b, ·) gives, whatever the number of
// workers or the scheduling. Workers goroutines fill batches while the
// consumer uses earlier ones, at most Prefetch ahead, so memory stays
// bounded (Prefetch+1 batches) and batch buffers are reused. The stream
// stops early when ctx is cancelled or Close is called; Close must be
// called (or ctx cancelled) to release the goroutines of a stream that is
// not read to the end.
func (l *Loader) Stream(ctx context.Context, epoch int) *BatchStream {
	return l.StreamFrom(ctx, epoch, 0)
}

// StreamFrom is Stream starting at batch start of the epoch (a run resumed in the middle of an epoch); the batches
// are exactly those Stream would deliver from that point.
func (l *Loader) StreamFrom(ctx context.Context, epoch, start int) *BatchStream {
	ctx, cancel := context.WithCancel(ctx)
	nb := l.NumBatches()
	start = max(0, min(start, nb))
	buffers := l.opts.Prefetch + 1
	s := &BatchStream{
		ctx:    ctx,
		cancel: cancel,
		total:  nb - start,
		ready:  make(chan *streamJob, buffers),
		free:   make(chan *Batch, buffers),
		done:   make(chan struct{}),
	}
	for range buffers {
		s.free <- new(Batch)
	}
	order := l.Epoch(epoch)
	jobs := make(chan *streamJob)
	var wg sync.WaitGroup
	for range min(l.opts.Workers, nb-start) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				l.EpochBatch(epoch, order, j.b, j.dst)
				close(j.built)
			}
		}()
	}
	wg.Add(1)
	go func() { // the dispatcher: hands out batch numbers in order
		defer wg.Done()
		defer close(jobs)
		defer close(s.ready)
		for b := start; b < nb; b++ {
			var dst *Batch
			select {
			case dst = <-s.free:
			case <-ctx.Done():
				return
			}
			j := &streamJob{b: b, dst: dst, built: make(chan struct{})}
			s.ready <- j // never blocks: it holds at most one job per buffer
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(s.done)
	}()
	return s
}

// streamJob is one batch being built by a stream.
type streamJob struct {
	b     int
	dst   *Batch
	built chan struct{} // closed once dst holds batch b
}

// BatchStream delivers the batches of one epoch built in the background
// (see Loader.Stream). It is meant for one consuming goroutine.
type BatchStream struct {
	ctx       context.Context
	cancel    context.CancelFunc
	total     int             // batches in the epoch
	delivered int             // batches returned by Next so far
	ready     chan *streamJob // jobs in batch order
	free      chan *Batch     // buffers not in use
	done      chan struct{}   // closed when every goroutine has exited
	held      *Batch          // the batch last returned by Next
	err       error
	finished  bool
}

// Next returns the next batch of the epoch and true, or nil and false once
// all batches were returned, or the stream was cancelled or closed (see
// Err). The batch stays valid until the next call to Next or Close, after
// which its buffer is reused: copy what must outlive it.
func (s *BatchStream) Next() (*Batch, bool) {
	if s.held != nil {
		s.free <- s.held // never blocks: the buffers are exactly free's capacity
		s.held = nil
	}
	if s.finished {
		return nil, false
	}
	var (
		j  *streamJob
		ok bool
	)
	select {
	case j, ok = <-s.ready:
	case <-s.ctx.Done():
	}
	if j == nil || !ok {
		s.stop()
		return nil, false
	}
	select {
	case <-j.built:
	case <-s.ctx.Done():
		s.stop()
		return nil, false
	}
	s.delivered++
	s.held = j.dst
	return j.dst, true
}

// stop ends the stream after its last batch or a cancellation, recording
// the context's error if batches are missing.
func (s *BatchStream) stop() {
	if s.finished {
		return
	}
	s.finished = true
	if s.delivered < s.total && s.err == nil {
		s.err = s.ctx.Err()
		if s.err == nil {
			s.err = context.Canceled
		}
	}
	s.cancel()
	<-s.done
}

// Err returns nil if every batch of the epoch was delivered (or none has
// been asked for yet), and otherwise the reason the stream stopped early:
// the context's error, or context.Canceled after Close.
func (s *BatchStream) Err() error { return s.err }

// Close stops the stream, waits for its goroutines to exit and releases
// its buffers; the last batch returned by Next becomes invalid. It may be
// called more than once, and after the stream ended by itself.
func (s *BatchStream) Close() {
	s.held = nil
	s.stop()
}
