package layers

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// serialWork is the job size (in multiply-adds or element operations) below which a kernel runs on the calling
// goroutine: starting workers costs more than such a small job.
const serialWork = 1 << 15

// parallelFor runs tasks 0 … count−1 on a pool of up to GOMAXPROCS goroutines that take task indices from a shared
// counter. newWorker is called once per goroutine and returns that goroutine's task function, so each worker can own
// scratch memory. Every task is run entirely by one worker, so as long as task i writes only its own part of the
// output, the result does not depend on the scheduling. work is the job's size in multiply-adds.
func parallelFor(count, work int, newWorker func() func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 || work < serialWork {
		fn := newWorker()
		for i := 0; i < count; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			fn := newWorker()
			for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// scratch returns buf resized to n elements, reallocating only when it is too small.
func scratch[T float](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// chunkSize is the number of elements an elementwise kernel hands to one task.
const chunkSize = 1 << 14

// parallelChunks runs fn over [0, n) in fixed chunks on the worker pool. Elementwise kernels write only their own
// chunk, so the result does not depend on scheduling.
func parallelChunks(n int, fn func(lo, hi int)) {
	chunks := (n + chunkSize - 1) / chunkSize
	parallelFor(chunks, n, func() func(int) {
		return func(i int) { fn(i*chunkSize, min(n, (i+1)*chunkSize)) }
	})
}
