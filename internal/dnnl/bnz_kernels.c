//go:build dnnl

// Plain C kernels for the memory-bound layers oneDNN serves poorly on NCHW buffers: batch normalisation (training
// and evaluation) and the activations (ReLU, tanh, the ReLU-like ones). Compiled with -O3 -march=native (see kernels.go) the loops vectorise; sums run in double
// in fixed lanes, so results do not depend on the thread count, and fp-contract=off (below) keeps every multiply and add
// rounded as the Go reference rounds it. Channels (or chunks) are split over the OpenMP team oneDNN uses.

// Keep a·b + c as two roundings, as Go computes it (GCC would fuse it into an FMA under -march=native).
#pragma GCC optimize("fp-contract=off")

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "bnz_kernels.h"

#define LANES 16

// chan_sum returns Σx over channel k of an (n, c, hw) buffer, and chan_sq_dev Σ(x − mu)².
static double chan_sum(const float *x, int64_t n, int64_t c, int64_t hw, int64_t k) {
	double acc[LANES] = {0};
	for (int64_t i = 0; i < n; i++) {
		const float *p = x + (i * c + k) * hw;
		int64_t j = 0;
		for (; j + LANES <= hw; j += LANES)
			for (int l = 0; l < LANES; l++)
				acc[l] += (double)p[j + l];
		for (int l = 0; j < hw; j++, l++)
			acc[l] += (double)p[j];
	}
	double s = 0;
	for (int l = 0; l < LANES; l++)
		s += acc[l];
	return s;
}

static double chan_sq_dev(const float *x, int64_t n, int64_t c, int64_t hw, int64_t k, double mu) {
	double acc[LANES] = {0};
	for (int64_t i = 0; i < n; i++) {
		const float *p = x + (i * c + k) * hw;
		int64_t j = 0;
		for (; j + LANES <= hw; j += LANES)
			for (int l = 0; l < LANES; l++) {
				double d = (double)p[j + l] - mu;
				acc[l] += d * d;
			}
		for (int l = 0; j < hw; j++, l++) {
			double d = (double)p[j] - mu;
			acc[l] += d * d;
		}
	}
	double s = 0;
	for (int l = 0; l < LANES; l++)
		s += acc[l];
	return s;
}

// chan_affine writes y = x·a + b (in double, rounded to float) for channel k.
static void chan_affine(const float *x, float *y, int64_t n, int64_t c, int64_t hw, int64_t k, double a, double b) {
	for (int64_t i = 0; i < n; i++) {
		const float *p = x + (i * c + k) * hw;
		float *q = y + (i * c + k) * hw;
		for (int64_t j = 0; j < hw; j++)
			q[j] = (float)((double)p[j] * a + b);
	}
}

void bnz_bn_forward(int64_t n, int64_t c, int64_t hw, float eps, const float *x, const float *gamma,
		const float *beta, float *y, double *mean, double *var) {
	const double m = (double)(n * hw);
#pragma omp parallel for schedule(static)
	for (int64_t k = 0; k < c; k++) {
		double mu = chan_sum(x, n, c, hw, k) / m;
		double v = chan_sq_dev(x, n, c, hw, k, mu) / m;
		double a = (double)gamma[k] / sqrt(v + (double)eps);
		chan_affine(x, y, n, c, hw, k, a, (double)beta[k] - mu * a);
		mean[k] = mu;
		var[k] = v;
	}
}

void bnz_bn_normalise(int64_t n, int64_t c, int64_t hw, const float *x, float *y, const double *scale,
		const double *shift) {
#pragma omp parallel for schedule(static)
	for (int64_t k = 0; k < c; k++)
		chan_affine(x, y, n, c, hw, k, scale[k], shift[k]);
}

void bnz_bn_backward(int64_t n, int64_t c, int64_t hw, float eps, const float *x, const double *mean,
		const double *var, const float *gamma, const float *dy, float *dx, float *dgamma, float *dbeta) {
	const double m = (double)(n * hw);
#pragma omp parallel for schedule(static)
	for (int64_t k = 0; k < c; k++) {
		const double mu = mean[k], is = 1 / sqrt(var[k] + (double)eps);
		double sdy[LANES] = {0}, sdyx[LANES] = {0};
		for (int64_t i = 0; i < n; i++) {
			const float *p = x + (i * c + k) * hw, *d = dy + (i * c + k) * hw;
			int64_t j = 0;
			for (; j + LANES <= hw; j += LANES)
				for (int l = 0; l < LANES; l++) {
					double g = (double)d[j + l];
					sdy[l] += g;
					sdyx[l] += g * (((double)p[j + l] - mu) * is);
				}
			for (int l = 0; j < hw; j++, l++) {
				double g = (double)d[j];
				sdy[l] += g;
				sdyx[l] += g * (((double)p[j] - mu) * is);
			}
		}
		double sumDy = 0, sumDyXhat = 0;
		for (int l = 0; l < LANES; l++) {
			sumDy += sdy[l];
			sumDyXhat += sdyx[l];
		}
		dgamma[k] = (float)sumDyXhat;
		dbeta[k] = (float)sumDy;
		const double a = (double)gamma[k] * is / m;
		for (int64_t i = 0; i < n; i++) {
			const float *p = x + (i * c + k) * hw, *d = dy + (i * c + k) * hw;
			float *q = dx + (i * c + k) * hw;
			for (int64_t j = 0; j < hw; j++) {
				double xhat = ((double)p[j] - mu) * is;
				q[j] = (float)(a * (m * (double)d[j] - sumDy - xhat * sumDyXhat));
			}
		}
	}
}

#define CHUNK 16384

// FOR_CHUNKS runs body for i in [0, len), in chunks of CHUNK elements shared out over the OpenMP team. Every
// element is computed on its own, so the result does not depend on the split.
#define FOR_CHUNKS(len, i, ...)                                                    \
	do {                                                                       \
		const int64_t chunks_ = ((len) + CHUNK - 1) / CHUNK;               \
		_Pragma("omp parallel for schedule(static)")                       \
		for (int64_t ch_ = 0; ch_ < chunks_; ch_++) {                      \
			const int64_t hi_ = ch_ * CHUNK + CHUNK < (len) ? ch_ * CHUNK + CHUNK : (len); \
			for (int64_t i = ch_ * CHUNK; i < hi_; i++)                \
				__VA_ARGS__                                        \
		}                                                                  \
	} while (0)

void bnz_relu(int64_t len, const float *x, float *y) {
	FOR_CHUNKS(len, i, { y[i] = x[i] > 0 ? x[i] : 0.0f; });
}

void bnz_relu_backward(int64_t len, const float *y, const float *dy, float *dx) {
	FOR_CHUNKS(len, i, { dx[i] = y[i] > 0 ? dy[i] : 0.0f; });
}

// Tanh, ported operation for operation from layers/fastmath.go (tanhSlice): e^y = 2^k · 2^(j/32) · p(r) with the
// table and the constants passed from Go, so the float32 results are the Go kernels' bits. k[0] = 32/ln2,
// k[1] = ln2/32 (Go constants, rounded once).
static inline double fast_exp(double y, const double *table, const double *k) {
	double t = y * k[0] + 0x1.8p52;
	double kf = t - 0x1.8p52;
	double r = y - kf * k[1];
	uint64_t bits;
	__builtin_memcpy(&bits, &t, sizeof bits);
	int32_t ki = (int32_t)(uint32_t)bits;
	double p = 1 + r * (1 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120)))));
	uint64_t eb = (uint64_t)(int64_t)((ki >> 5) + 1023) << 52;
	double scale;
	__builtin_memcpy(&scale, &eb, sizeof scale);
	return p * table[ki & 31] * scale;
}

#define TANH_LIN 0.05
#define TANH_BIG 9.1

#ifdef __AVX2__
// tanh4 is tanh1 (below) on four lanes, operation for operation (IEEE double arithmetic is the same
// in a vector lane; the table is read with a gather): GCC does not vectorise the scalar loop (its branches and
// table lookup), which ran at ~8 ns a value.
static inline __m128 tanh4(__m128 xf, __m256d in_scale, __m256d shift, __m256d out_scale, const double *table,
		__m256d k0, __m256d k1) {
	const __m256d sign = _mm256_set1_pd(-0.0), one = _mm256_set1_pd(1.0), two = _mm256_set1_pd(2.0);
	const __m256d magic = _mm256_set1_pd(0x1.8p52);
	__m256d z = _mm256_sub_pd(_mm256_mul_pd(in_scale, _mm256_cvtps_pd(xf)), shift);
	__m256d a = _mm256_andnot_pd(sign, z);
	__m256d s = _mm256_mul_pd(a, a);
	__m256d poly = _mm256_add_pd(_mm256_set1_pd(2.0 / 15), _mm256_mul_pd(s, _mm256_set1_pd(-17.0 / 315)));
	poly = _mm256_add_pd(_mm256_set1_pd(-1.0 / 3), _mm256_mul_pd(s, poly));
	__m256d small = _mm256_add_pd(a, _mm256_mul_pd(_mm256_mul_pd(a, s), poly));
	__m256d big = _mm256_cmp_pd(a, _mm256_set1_pd(TANH_BIG), _CMP_LT_OQ); // a < TANH_BIG (false for NaN)
	__m256d y = _mm256_mul_pd(two, _mm256_and_pd(big, a));                 // fast_exp(2·(a < BIG ? a : 0))
	__m256d t = _mm256_add_pd(_mm256_mul_pd(y, k0), magic);
	__m256d kf = _mm256_sub_pd(t, magic);
	__m256d r = _mm256_sub_pd(y, _mm256_mul_pd(kf, k1));
	__m128i ki = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(t),
			_mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
	__m256d p = _mm256_add_pd(_mm256_set1_pd(1.0 / 24), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 120)));
	p = _mm256_add_pd(_mm256_set1_pd(1.0 / 6), _mm256_mul_pd(r, p));
	p = _mm256_add_pd(_mm256_set1_pd(1.0 / 2), _mm256_mul_pd(r, p));
	p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
	p = _mm256_add_pd(one, _mm256_mul_pd(r, p));
	__m256d tab = _mm256_i32gather_pd(table, _mm_and_si128(ki, _mm_set1_epi32(31)), 8);
	__m256i eb = _mm256_slli_epi64(_mm256_cvtepi32_epi64(_mm_add_epi32(_mm_srai_epi32(ki, 5), _mm_set1_epi32(1023))), 52);
	__m256d e = _mm256_mul_pd(_mm256_mul_pd(p, tab), _mm256_castsi256_pd(eb));
	__m256d mid = _mm256_sub_pd(one, _mm256_div_pd(two, _mm256_add_pd(e, one)));
	__m256d lin = _mm256_cmp_pd(a, _mm256_set1_pd(TANH_LIN), _CMP_LT_OQ);
	__m256d tv = _mm256_blendv_pd(_mm256_blendv_pd(one, mid, big), small, lin);
	__m256d res = _mm256_or_pd(tv, _mm256_and_pd(sign, z));                // copysign(t, z), t ≥ 0
	res = _mm256_blendv_pd(res, z, _mm256_cmp_pd(z, z, _CMP_UNORD_Q));    // z != z ? z : …
	return _mm256_cvtpd_ps(_mm256_mul_pd(out_scale, res));
}
#endif

// tanh1 is the loop body for one value: out_scale·tanh(in_scale·x − shift), as layers' tanhSlice computes it.
static inline float tanh1(float x, double in_scale, double shift, double out_scale, const double *table,
		const double *k) {
	const double c3 = -1.0 / 3, c5 = 2.0 / 15, c7 = -17.0 / 315;
	double z = in_scale * (double)x - shift;
	double a = fabs(z);
	double s = a * a;
	double small = a + a * s * (c3 + s * (c5 + s * c7));
	double e = fast_exp(2 * (a < TANH_BIG ? a : 0), table, k);
	double t = a < TANH_LIN ? small : (a < TANH_BIG ? 1 - 2 / (e + 1) : 1.0);
	double res = z != z ? z : copysign(t, z);
	return (float)(out_scale * res);
}

void bnz_tanh(int64_t len, const float *x, float *y, double in_scale, double shift, double out_scale,
		const double *table, const double *k) {
#ifdef __AVX2__
	const __m256d vin = _mm256_set1_pd(in_scale), vsh = _mm256_set1_pd(shift), vout = _mm256_set1_pd(out_scale);
	const __m256d k0 = _mm256_set1_pd(k[0]), k1 = _mm256_set1_pd(k[1]);
#endif
	const int64_t chunks = (len + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static)
	for (int64_t ch = 0; ch < chunks; ch++) {
		const int64_t hi = ch * CHUNK + CHUNK < len ? ch * CHUNK + CHUNK : len;
		int64_t i = ch * CHUNK;
#ifdef __AVX2__
		for (; i + 4 <= hi; i += 4)
			_mm_storeu_ps(y + i, tanh4(_mm_loadu_ps(x + i), vin, vsh, vout, table, k0, k1));
#endif
		for (; i < hi; i++)
			y[i] = tanh1(x[i], in_scale, shift, out_scale, table, k);
	}
}

// bnz_tanh_backward writes dx = (float)(prod·(1 − (y/scale)²)) · dy for y = scale·tanh(slope·x − shift), prod =
// scale·slope (rounded once by Go); scale = prod = 1 (tanh, shifted tanh) computes (float)(1 − y²) · dy, in Go's
// order of operations.
void bnz_tanh_backward(int64_t len, const float *y, const float *dy, float *dx, double scale, double prod) {
	FOR_CHUNKS(len, i, {
		double z = (double)y[i];
		float d;
		if (scale == 1 && prod == 1) {
			d = (float)(1 - z * z);
		} else {
			double t = z / scale;
			d = (float)(prod * (1 - t * t));
		}
		dx[i] = d * dy[i];
	});
}

void bnz_sigmoid_backward(int64_t len, const float *y, const float *dy, float *dx) {
	FOR_CHUNKS(len, i, {
		double z = (double)y[i];
		dx[i] = (float)(z * (1 - z)) * dy[i];
	});
}

// The ReLU-like activations, ported operation for operation from layers/relulike_kernels.go (leakyForward,
// eluForward32, siluForward32 and their backward loops) with fastExp's table and constants from Go, so the float32
// results are the Go kernels' bits. GELU has no port: it needs erfc, which glibc and Go's math package do not
// compute bit for bit alike.

#define EXP_MAX 700.0   // layers' expMax
#define EXPM1_LIN 0.05  // layers' expm1Lin

void bnz_leaky_relu(int64_t len, const float *x, float *y, double alpha) {
	FOR_CHUNKS(len, i, { y[i] = x[i] > 0 ? x[i] : (float)(alpha * (double)x[i]); });
}

// bnz_leaky_relu_backward reads ReLU's output y: with alpha ≥ 0, y > 0 exactly where x > 0.
void bnz_leaky_relu_backward(int64_t len, const float *y, const float *dy, float *dx, double alpha) {
	const float a = (float)alpha;
	FOR_CHUNKS(len, i, { dx[i] = (y[i] > 0 ? 1.0f : a) * dy[i]; });
}

// fast_expm1 is layers' fastExpm1 (e^z − 1 for z ≤ 0): Taylor series above −EXPM1_LIN, fast_exp − 1 down to
// −EXP_MAX, −1 below, NaN kept. Every branch is computed and one selected, so the loops vectorise.
static inline double fast_expm1(double z, const double *table, const double *k) {
	double small = z * (1 + z * (1.0 / 2 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z * (1.0 / 720 +
		z * (1.0 / 5040)))))));
	double e = fast_exp(z >= -EXP_MAX && z <= 0 ? z : 0, table, k) - 1;
	return z > -EXPM1_LIN ? small : (z >= -EXP_MAX ? e : (z < -EXP_MAX ? -1.0 : z));
}

// fast_sigmoid is layers' fastSigmoid.
static inline double fast_sigmoid(double z, const double *table, const double *k) {
	double a = fabs(z);
	double e = fast_exp(-(a < EXP_MAX ? a : 0), table, k);
	double s = z >= 0 ? 1 / (1 + e) : e / (1 + e);
	return a < EXP_MAX ? s : (z > 0 ? 1.0 : (z < 0 ? 0.0 : z));
}

void bnz_elu(int64_t len, const float *x, float *y, double alpha, const double *table, const double *k) {
	FOR_CHUNKS(len, i, {
		double m = fast_expm1((double)x[i], table, k);
		y[i] = x[i] > 0 ? x[i] : (float)(alpha * m);
	});
}

// bnz_elu_backward reads ELU's input x: dx = dy for x > 0, (float)(alpha·e^x)·dy otherwise (e^x = 0 below −EXP_MAX).
void bnz_elu_backward(int64_t len, const float *x, const float *dy, float *dx, double alpha, const double *table,
		const double *k) {
	FOR_CHUNKS(len, i, {
		double z = (double)x[i];
		double e = fast_exp(z >= -EXP_MAX && z <= 0 ? z : 0, table, k);
		double en = z < -EXP_MAX ? 0.0 : (z != z ? z : e);
		double d = z > 0 ? 1.0 : alpha * en;
		dx[i] = (float)d * dy[i];
	});
}

void bnz_silu(int64_t len, const float *x, float *y, const double *table, const double *k) {
	FOR_CHUNKS(len, i, {
		double z = (double)x[i];
		y[i] = (float)(z * fast_sigmoid(z, table, k));
	});
}

// bnz_silu_backward reads SiLU's input x: dx = (float)(s·(1 + x·(1 − s)))·dy with s = sigmoid(x).
void bnz_silu_backward(int64_t len, const float *x, const float *dy, float *dx, const double *table, const double *k) {
	FOR_CHUNKS(len, i, {
		double z = (double)x[i];
		double s = fast_sigmoid(z, table, k);
		dx[i] = (float)(s * (1 + z * (1 - s))) * dy[i];
	});
}
