//go:build !dnnl

package analysis

// acceleratedBatch reports that this build (without the dnnl tag) has no C kernels: Add runs the Go ones.
func acceleratedBatch[T float32 | float64](*Accumulator, []T, []T, int, int) (bool, error) {
	return false, nil
}

// accelScratch is empty in this build: there are no C kernels to hold outputs for.
type accelScratch struct{}
