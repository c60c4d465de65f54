//go:build dnnl

package dnnl

/*
#include "bnz_kernels.h"
*/
import "C"

import "runtime"

// Bindings of the ReLU-like activations' C loops (bnz_kernels.c), ports of layers/relulike_kernels.go that give its
// bits. ELU and SiLU take fastExp's table of 2^(j/32) and its constants k = {32/ln2, ln2/32} from Go, as Tanh does.
// GELU has no C loop: it needs erfc, which C's libm and Go's math package do not compute bit for bit alike.

// LeakyRelu writes y = x for x > 0 and float32(alpha·x) otherwise.
func LeakyRelu(x, y []float32, alpha float64) error {
	if err := checkLens("leaky relu", len(x), y); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_leaky_relu(C.int64_t(len(x)), fp(x), fp(y), C.double(alpha))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		return nil
	})
}

// LeakyReluBackward writes dx = dy where y > 0 and float32(alpha)·dy elsewhere, from the output y (alpha ≥ 0).
func LeakyReluBackward(y, dy, dx []float32, alpha float64) error {
	if err := checkLens("leaky relu backward", len(y), dy, dx); err != nil || len(y) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_leaky_relu_backward(C.int64_t(len(y)), fp(y), fp(dy), fp(dx), C.double(alpha))
		runtime.KeepAlive(y)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		return nil
	})
}

// Elu writes y = x for x > 0 and float32(alpha·(e^x − 1)) otherwise, with layers' fastExpm1.
func Elu(x, y []float32, alpha float64, expTable *[32]float64, k [2]float64) error {
	if err := checkLens("elu", len(x), y); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_elu(C.int64_t(len(x)), fp(x), fp(y), C.double(alpha), dp(expTable[:]), dp(k[:]))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		runtime.KeepAlive(expTable)
		return nil
	})
}

// EluBackward writes dx = dy for x > 0 and float32(alpha·e^x)·dy otherwise, from the input x.
func EluBackward(x, dy, dx []float32, alpha float64, expTable *[32]float64, k [2]float64) error {
	if err := checkLens("elu backward", len(x), dy, dx); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_elu_backward(C.int64_t(len(x)), fp(x), fp(dy), fp(dx), C.double(alpha), dp(expTable[:]), dp(k[:]))
		runtime.KeepAlive(x)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		runtime.KeepAlive(expTable)
		return nil
	})
}

// Silu writes y = float32(x·sigmoid(x)), with layers' fastSigmoid.
func Silu(x, y []float32, expTable *[32]float64, k [2]float64) error {
	if err := checkLens("silu", len(x), y); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_silu(C.int64_t(len(x)), fp(x), fp(y), dp(expTable[:]), dp(k[:]))
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		runtime.KeepAlive(expTable)
		return nil
	})
}

// SiluBackward writes dx = float32(s·(1 + x·(1 − s)))·dy with s = sigmoid(x), from the input x.
func SiluBackward(x, dy, dx []float32, expTable *[32]float64, k [2]float64) error {
	if err := checkLens("silu backward", len(x), dy, dx); err != nil || len(x) == 0 {
		return err
	}
	return do(func() error {
		setThreads()
		C.bnz_silu_backward(C.int64_t(len(x)), fp(x), fp(dy), fp(dx), dp(expTable[:]), dp(k[:]))
		runtime.KeepAlive(x)
		runtime.KeepAlive(dy)
		runtime.KeepAlive(dx)
		runtime.KeepAlive(expTable)
		return nil
	})
}
