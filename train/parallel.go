package train

import (
	"runtime"
	"sync"
)

// parallelMin is the element count from which optimizer updates are split over goroutines.
const parallelMin = 1 << 16

// inParts runs fn over [0, n) split into one contiguous part per CPU (GOMAXPROCS) when n is large enough to pay
// for the goroutines. Optimizer updates are elementwise, so the result does not depend on the split.
func inParts(n int, fn func(lo, hi int)) {
	parts := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if parts <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
