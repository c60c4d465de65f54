package main

import "github.com/bnzoo/bnzoo/layers"

// backend names the convolution kernels this binary was built with ("go", or oneDNN's version under -tags dnnl).
var backend = layers.ConvBackend()
