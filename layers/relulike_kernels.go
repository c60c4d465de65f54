package layers

import "math"

// Kernels of the ReLU-like activations (leaky ReLU, ELU, SiLU, GELU). Float32 ELU and SiLU compute in float64 with
// fastExp and fastSigmoid (fastmath.go), whose relative errors near 1e-13 leave the float32 result the correctly
// rounded one except in rare near-ties, as for tanh; GELU uses math.Erfc for both float types. The C ports in the
// dnnl build (internal/dnnl/bnz_kernels.c) repeat this arithmetic and give the same bits.

// expm1Lin is the |z| below which fastExpm1 uses its Taylor series: there e^z − 1 cancels, and fastExp's absolute
// error of 1e-13 would be a relative error of up to 2e-6 at |z| = 1e-7.
const expm1Lin = 0.05

// fastExpm1 returns e^z − 1 for z ≤ 0 with a relative error below about 1e-12 (ELU's negative side).
func fastExpm1(z float64) float64 {
	switch {
	case z > -expm1Lin:
		// Next term z^8/8!: relative error < 0.05^7/40320 ≈ 2e-14.
		return z * (1 + z*(1.0/2+z*(1.0/6+z*(1.0/24+z*(1.0/120+z*(1.0/720+z*(1.0/5040)))))))
	case z >= -expMax:
		return fastExp(z) - 1
	case z < -expMax:
		return -1
	default: // NaN
		return z
	}
}

// fastExpNeg returns e^z for z ≤ 0: fastExp where it is valid, 0 below −expMax (NaN stays NaN).
func fastExpNeg(z float64) float64 {
	if z < -expMax {
		return 0
	}
	return fastExp(z)
}

// leakyForward writes y = x for x > 0 and α·x (computed in float64, rounded once) otherwise.
func leakyForward[T float](alpha float64, x, y []T) {
	y = y[:len(x)]
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = T(alpha * float64(v))
		}
	}
}

// eluForward32 writes y = x for x > 0 and α·(e^x − 1) otherwise, with fastExpm1.
func eluForward32(alpha float64, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = float32(alpha * fastExpm1(float64(v)))
		}
	}
}

// siluForward32 writes y = x·sigmoid(x), with fastSigmoid.
func siluForward32(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		z := float64(v)
		y[i] = float32(z * fastSigmoid(z))
	}
}

// leakyBackward writes dx = dy where y > 0 and T(α)·dy elsewhere. With α ≥ 0 (ParseActivation's rule) y > 0 ⟺
// x > 0, so reading y is exact, and at x = 0 the slope is α, as in PyTorch.
func leakyBackward[T float](alpha float64, y, dy, dx []T) {
	y, dy = y[:len(dx)], dy[:len(dx)]
	a := T(alpha)
	for i, v := range y {
		d := a
		if v > 0 {
			d = 1
		}
		dx[i] = d * dy[i]
	}
}

// eluBackward writes dx = dy for x > 0 and T(α·e^x)·dy otherwise, from x (fastExpNeg for float32, math.Exp for
// float64). Written in y the derivative is y + α, which for a float32 y near −α keeps few correct digits.
func eluBackward[T float](alpha float64, x, dy, dx []T) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	f32 := isFloat32[T]()
	for i, v := range x {
		z := float64(v)
		d := 1.0
		switch {
		case !(z > 0) && f32:
			d = alpha * fastExpNeg(z)
		case !(z > 0):
			d = alpha * math.Exp(z)
		}
		dx[i] = T(d) * dy[i]
	}
}

// siluBackward writes dx = T(s·(1 + x·(1 − s)))·dy with s = sigmoid(x), from x: SiLU is not monotonic, so y does
// not determine x.
func siluBackward[T float](x, dy, dx []T) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	f32 := isFloat32[T]()
	for i, v := range x {
		z := float64(v)
		var s float64
		if f32 {
			s = fastSigmoid(z)
		} else {
			s = sigmoid(z)
		}
		dx[i] = T(s*(1+z*(1-s))) * dy[i]
	}
}

// geluBackward writes dx = T(Φ(x) + x·φ(x))·dy, from x: GELU is not monotonic either.
func geluBackward[T float](x, dy, dx []T) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		dx[i] = T(geluGrad(float64(v))) * dy[i]
	}
}

// isFloat32 reports whether T is float32.
func isFloat32[T float]() bool {
	var zero T
	_, ok := any(zero).(float32)
	return ok
}
