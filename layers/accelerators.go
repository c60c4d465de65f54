package layers

// Accelerated reports whether this build runs float32 convolutions, depthwise convolutions, tanh/sigmoid/ReLU and
// BatchNorm on accelerators (oneDNN and bnzoo's C loops in -tags dnnl builds) instead of the pure-Go kernels.
func Accelerated() bool {
	return convAccel32 != nil || dwAccel32 != nil || eltAccel32 != nil || bnAccel32 != nil
}

// WithoutAccelerators switches every accelerator off so that the pure-Go reference kernels run, and returns the
// function that switches them back on. It is for tests and benchmarks that compare the two paths in one process;
// it must not be called while a graph is running.
func WithoutAccelerators() (restore func()) {
	conv, dw, elt, bn, fused := convAccel32, dwAccel32, eltAccel32, bnAccel32, fusedAccel32
	convAccel32, dwAccel32, eltAccel32, bnAccel32, fusedAccel32 = nil, nil, nil, nil, nil
	return func() { convAccel32, dwAccel32, eltAccel32, bnAccel32, fusedAccel32 = conv, dw, elt, bn, fused }
}
