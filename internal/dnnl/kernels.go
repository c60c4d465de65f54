//go:build dnnl

package dnnl

/*
#cgo CFLAGS: -O3 -march=native -fopenmp
#cgo LDFLAGS: -lm
#include "bnz_kernels.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// The functions in this file run bnzoo's own C loops (bnz_kernels.c), not oneDNN primitives: oneDNN 2.6 runs batch
// normalisation on plain NCHW buffers with a reference kernel (3.5–5× slower than its blocked-layout JIT one, whose
// layout conversions would cost two more passes over the data), and each ReLU pass is one read and one write that a
// vectorised loop does at memory speed. They run on the oneDNN goroutine, so they share OpenMP's thread team.

// BatchNormForward normalises x (N, C, HW) with its batch statistics: y = scale·(x − μ)/√(σ² + eps) + shift per
// channel, and writes μ and the biased σ² to mean and variance. Statistics are computed in double (two passes) and
// y is rounded once from double.
func BatchNormForward(n, c, hw int, eps float32, x, scale, shift, y []float32, mean, variance []float64) error {
	if n < 1 || c < 1 || hw < 1 {
		return fmt.Errorf("batch normalization: invalid geometry (%d, %d, %d)", n, c, hw)
	}
	if err := checkLens("batch normalization forward", n*c*hw, x, y); err != nil {
		return err
	}
	if err := checkLens("batch normalization forward", c, scale, shift); err != nil {
		return err
	}
	if len(mean) != c || len(variance) != c {
		return fmt.Errorf("batch normalization forward: %d means and %d variances for %d channels", len(mean), len(variance), c)
	}
	return do(func() error {
		setThreads()
		C.bnz_bn_forward(C.int64_t(n), C.int64_t(c), C.int64_t(hw), C.float(eps), fp(x), fp(scale), fp(shift), fp(y),
			dp(mean), dp(variance))
		runtime.KeepAlive(x)
		runtime.KeepAlive(scale)
		runtime.KeepAlive(shift)
		runtime.KeepAlive(y)
		runtime.KeepAlive(mean)
		runtime.KeepAlive(variance)
		return nil
	})
}

// BatchNormBackward computes, for a forward pass with batch statistics mean and variance, dx and the gradients of
// scale and shift (dscale = Σdy·x̂, dshift = Σdy per channel) from x, scale and dy, with the sums in double.
func BatchNormBackward(n, c, hw int, eps float32, x []float32, mean, variance []float64, scale, dy, dx, dscale, dshift []float32) error {
	if n < 1 || c < 1 || hw < 1 {
		return fmt.Errorf("batch normalization: invalid geometry (%d, %d, %d)", n, c, hw)
	}
	if err := checkLens("batch normalization backward", n*c*hw, x, dy, dx); err != nil {
		return err
	}
	if err := checkLens("batch normalization backward", c, scale, dscale, dshift); err != nil {
		return err
	}
	if len(mean) != c || len(variance) != c {
		return fmt.Errorf("batch normalization backward: %d means and %d variances for %d channels", len(mean), len(variance), c)
	}
	return do(func() error {
		setThreads()
		C.bnz_bn_backward(C.int64_t(n), C.int64_t(c), C.int64_t(hw), C.float(eps), fp(x), dp(mean), dp(variance),
			fp(scale), fp(dy), fp(dx), fp(dscale), fp(dshift))
		runtime.KeepAlive(x)
		runtime.KeepAlive(mean)
		runtime.KeepAlive(variance)
		runtime.KeepAlive(scale)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		runtime.KeepAlive(dscale)
		runtime.KeepAlive(dshift)
		return nil
	})
}

// Normalise writes y = x·scale[k] + shift[k] per channel k of an (n, c, hw) buffer, computed in double and rounded
// once: evaluation-mode batch normalisation with the per-channel factors folded by the caller.
func Normalise(n, c, hw int, x, y []float32, scale, shift []float64) error {
	if n < 1 || c < 1 || hw < 1 {
		return fmt.Errorf("batch normalization: invalid geometry (%d, %d, %d)", n, c, hw)
	}
	if err := checkLens("batch normalization (evaluation)", n*c*hw, x, y); err != nil {
		return err
	}
	if len(scale) != c || len(shift) != c {
		return fmt.Errorf("batch normalization (evaluation): %d scales and %d shifts for %d channels", len(scale), len(shift), c)
	}
	return do(func() error {
		setThreads()
		C.bnz_bn_normalise(C.int64_t(n), C.int64_t(c), C.int64_t(hw), fp(x), fp(y),
			dp(scale), dp(shift))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		runtime.KeepAlive(scale)
		runtime.KeepAlive(shift)
		return nil
	})
}

// Relu writes y = x where x > 0 and +0 elsewhere (NaN included).
func Relu(x, y []float32) error {
	if err := checkLens("relu", len(x), y); err != nil {
		return err
	}
	if len(x) == 0 {
		return nil
	}
	return do(func() error {
		setThreads()
		C.bnz_relu(C.int64_t(len(x)), fp(x), fp(y))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		return nil
	})
}

// ReluBackward writes dx = dy where y > 0 and +0 elsewhere, from ReLU's output y.
func ReluBackward(y, dy, dx []float32) error {
	if err := checkLens("relu backward", len(y), dy, dx); err != nil {
		return err
	}
	if len(y) == 0 {
		return nil
	}
	return do(func() error {
		setThreads()
		C.bnz_relu_backward(C.int64_t(len(y)), fp(y), fp(dy), fp(dx))
		runtime.KeepAlive(y)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		return nil
	})
}

// fp passes a non-empty float32 slice to C.
func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

// dp passes a non-empty float64 slice to C.
func dp(s []float64) *C.double { return (*C.double)(unsafe.Pointer(&s[0])) }

// Tanh writes y = outScale·tanh(inScale·x − shift) with the arithmetic of layers' tanhSlice (fastmath.go),
// operation for operation: expTable is its table of 2^(j/32) and k = {32/ln2, ln2/32} its constants, so the
// results are the Go kernel's bits. (oneDNN's tanh is a few ulps off near ±1, where 1 − y², the derivative, then
// comes out orders of magnitude too large for a saturated unit.)
func Tanh(x, y []float32, inScale, shift, outScale float64, expTable *[32]float64, k [2]float64) error {
	if err := checkLens("tanh", len(x), y); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_tanh(C.int64_t(len(x)), fp(x), fp(y), C.double(inScale), C.double(shift), C.double(outScale),
			dp(expTable[:]), dp(k[:]))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		runtime.KeepAlive(expTable)
		return nil
	})
}

// TanhBackward writes dx = float32(prod·(1 − (y/scale)²))·dy from y = scale·tanh(…), prod = scale·slope; with
// scale = prod = 1 it is float32(1 − y²)·dy. The arithmetic is layers' activationBackward's.
func TanhBackward(y, dy, dx []float32, scale, prod float64) error {
	if err := checkLens("tanh backward", len(y), dy, dx); err != nil || len(y) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_tanh_backward(C.int64_t(len(y)), fp(y), fp(dy), fp(dx), C.double(scale), C.double(prod))
		runtime.KeepAlive(y)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		return nil
	})
}

// SigmoidBackward writes dx = float32(y·(1 − y))·dy.
func SigmoidBackward(y, dy, dx []float32) error {
	if err := checkLens("sigmoid backward", len(y), dy, dx); err != nil || len(y) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_sigmoid_backward(C.int64_t(len(y)), fp(y), fp(dy), fp(dx))
		runtime.KeepAlive(y)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		return nil
	})
}
