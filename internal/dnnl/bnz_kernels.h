//go:build dnnl

// Plain C kernels (bnz_kernels.c) for batch normalisation and the activations on NCHW float32 buffers.
#include <stdint.h>

void bnz_bn_forward(int64_t n, int64_t c, int64_t hw, float eps, const float *x, const float *gamma,
		const float *beta, float *y, double *mean, double *var);
void bnz_bn_normalise(int64_t n, int64_t c, int64_t hw, const float *x, float *y, const double *scale,
		const double *shift);
void bnz_bn_backward(int64_t n, int64_t c, int64_t hw, float eps, const float *x, const double *mean,
		const double *var, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta);
void bnz_relu(int64_t len, const float *x, float *y);
void bnz_relu_backward(int64_t len, const float *y, const float *dy, float *dx);
void bnz_tanh(int64_t len, const float *x, float *y, double in_scale, double shift, double out_scale,
		const double *table, const double *k);
void bnz_tanh_backward(int64_t len, const float *y, const float *dy, float *dx, double scale, double prod);
void bnz_sigmoid_backward(int64_t len, const float *y, const float *dy, float *dx);
void bnz_leaky_relu(int64_t len, const float *x, float *y, double alpha);
void bnz_leaky_relu_backward(int64_t len, const float *y, const float *dy, float *dx, double alpha);
void bnz_elu(int64_t len, const float *x, float *y, double alpha, const double *table, const double *k);
void bnz_elu_backward(int64_t len, const float *x, const float *dy, float *dx, double alpha, const double *table,
		const double *k);
void bnz_silu(int64_t len, const float *x, float *y, const double *table, const double *k);
void bnz_silu_backward(int64_t len, const float *x, const float *dy, float *dx, const double *table, const double *k);
