//go:build dnnl

// bnzoo's own post-ops of a fused evaluation convolution (bnz_fused.c), run over the convolution's output after
// oneDNN's: tanh (scale·tanh(in·x − shift)) and the per-channel affine x·scale[k] + shift[k], in float32, eight
// values at a time with AVX2. oneDNN 2.6's AVX2 tanh gathers from a table (4 ns a value on AMD cores) and its
// binary post-ops for a per-channel scale and shift cost 5× this loop.

#include <stdint.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "bnz_postloops.h"

// tanh_f32 is tanh in float32 by the rational approximation of Eigen's generic_fast_tanh_float (odd degree-13
// numerator over even degree-6 denominator, argument clamped to ±7.9053, where tanh rounds to ±1; x itself below
// 4e-4): branch-free, so the loops below vectorise. Its error is a few float32 ulps (TestFusedTanhAccuracy), NaN
// stays NaN.
static inline float tanh_f32(float x) {
	const float clamp = 7.90531110763549805f;
	float c = x < -clamp ? -clamp : (x > clamp ? clamp : x);
	float x2 = c * c;
	float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
	p = x2 * p + -8.60467152213735e-11f;
	p = x2 * p + 5.12229709037114e-08f;
	p = x2 * p + 1.48572235717979e-05f;
	p = x2 * p + 6.37261928875436e-04f;
	p = x2 * p + 4.89352455891786e-03f;
	p = c * p;
	float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
	q = x2 * q + 2.26843463243900e-03f;
	q = x2 * q + 4.89352518554385e-03f;
	float r = p / q;
	r = (x < 0.0004f && x > -0.0004f) ? x : r;
	return x != x ? x : r;
}

#ifdef __AVX2__
// tanh8 is tanh_f32 on eight lanes.
static inline __m256 tanh8(__m256 x) {
	const __m256 clamp = _mm256_set1_ps(7.90531110763549805f);
	__m256 c = _mm256_min_ps(_mm256_max_ps(x, _mm256_sub_ps(_mm256_setzero_ps(), clamp)), clamp);
	__m256 x2 = _mm256_mul_ps(c, c);
#define MADD(a, b, k) _mm256_add_ps(_mm256_mul_ps(a, b), _mm256_set1_ps(k))
	__m256 p = MADD(x2, _mm256_set1_ps(-2.76076847742355e-16f), 2.00018790482477e-13f);
	p = MADD(x2, p, -8.60467152213735e-11f);
	p = MADD(x2, p, 5.12229709037114e-08f);
	p = MADD(x2, p, 1.48572235717979e-05f);
	p = MADD(x2, p, 6.37261928875436e-04f);
	p = MADD(x2, p, 4.89352455891786e-03f);
	p = _mm256_mul_ps(c, p);
	__m256 q = MADD(x2, _mm256_set1_ps(1.19825839466702e-06f), 1.18534705686654e-04f);
	q = MADD(x2, q, 2.26843463243900e-03f);
	q = MADD(x2, q, 4.89352518554385e-03f);
#undef MADD
	__m256 r = _mm256_div_ps(p, q);
	__m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
	__m256 keep = _mm256_or_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(0.0004f), _CMP_LT_OQ), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
	return _mm256_blendv_ps(r, x, keep);
}

// own8 applies the own post-ops to eight values with per-lane scale and shift.
static inline __m256 own8(__m256 v, int th, __m256 ti, __m256 ts, __m256 to, __m256 sc, __m256 sh) {
	if (th) {
		v = _mm256_mul_ps(to, tanh8(_mm256_sub_ps(_mm256_mul_ps(ti, v), ts)));
	}
	return _mm256_add_ps(_mm256_mul_ps(v, sc), sh);
}
#endif

// own_scalar applies the own post-ops to one value.
static inline float own_scalar(float v, int th, float ti, float ts, float to, float sc, float sh) {
	if (th) {
		v = to * tanh_f32(ti * v - ts);
	}
	return v * sc + sh;
}

// bnz_own_posts applies the TANH and AFFINE post-ops (v = scale·tanh(in·v − shift), then v = v·sc[k] + sh[k] per
// channel k) in float32 to a buffer in nchw (block 1) or nChw<B>c (B ≤ 16); padded channels, past o, are left
// with scale 1 and shift 0. With AVX2 it runs eight values at a time (GCC does not vectorise the tanh itself).
void bnz_own_posts(float *y, int64_t n, int64_t o, int64_t hw, int64_t blk, int th, float ti, float ts, float to,
		int af, const float *scale, const float *shift) {
	const int64_t nb = (o + blk - 1) / blk;
#pragma omp parallel for schedule(static)
	for (int64_t p = 0; p < n * nb; p++) {
		const int64_t cb = p % nb, lanes = o - cb * blk < blk ? o - cb * blk : blk;
		float *q = y + p * hw * blk;
		float sc[16], sh[16];
		for (int64_t l = 0; l < blk; l++) {
			sc[l] = af && l < lanes ? scale[cb * blk + l] : 1.0f;
			sh[l] = af && l < lanes ? shift[cb * blk + l] : 0.0f;
		}
		int64_t j = 0, len = hw * blk;
#ifdef __AVX2__
		const __m256 vti = _mm256_set1_ps(ti), vts = _mm256_set1_ps(ts), vto = _mm256_set1_ps(to);
		if (blk == 1) {
			const __m256 a = _mm256_set1_ps(sc[0]), b = _mm256_set1_ps(sh[0]);
			for (; j + 8 <= len; j += 8)
				_mm256_storeu_ps(q + j, own8(_mm256_loadu_ps(q + j), th, vti, vts, vto, a, b));
		} else if (blk == 8 || blk == 16) {
			for (; j + blk <= len; j += blk)
				for (int64_t l = 0; l < blk; l += 8)
					_mm256_storeu_ps(q + j + l, own8(_mm256_loadu_ps(q + j + l), th, vti, vts, vto,
							_mm256_loadu_ps(sc + l), _mm256_loadu_ps(sh + l)));
		}
#endif
		for (; j < len; j++) {
			q[j] = own_scalar(q[j], th, ti, ts, to, sc[j % blk], sh[j % blk]);
		}
	}
}
