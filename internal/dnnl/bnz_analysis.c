//go:build dnnl

// The analysis kernels: analysis.Accumulator's per-batch passes over one tapped layer, in C. Every per-channel sum
// adds its values in the order of analysis' Go kernels (sample by sample, position by position) with the same
// operations, so the results are the Go kernels' bits (analysis' TestKernelsMatchReference checks them against its
// one-channel reference loop in this build). With AVX2, four channels share one vector — lane q holds channel c + q,
// so each lane is still one channel's sequential sum — and only the histogram updates are scalar; without it, the
// scalar loop below serves every channel. Groups of four channels are split over the OpenMP team.

// Keep a·b + c as two roundings, as Go computes it (GCC would fuse it into an FMA under -march=native).
#pragma GCC optimize("fp-contract=off")

#include <stdint.h>

#include "bnz_analysis.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

// bnz_an_out holds the per-channel outputs; the histograms are added to, everything else is written.
typedef struct {
	double *sat;      // [c][bins]: Σz per saturation bin
	int64_t *zhist;   // [c][hist_bins]
	int64_t *nhist;   // [c][next_bins + 2]: underflow, the bins, overflow
	double *ysum;     // [c]: Σ(z − shift)
	int64_t *up;      // [c]: count of z > hi
	int64_t *down;    // [c]: count of z < lo
	double *act_sums; // [c][3]: Σd, Σd², Σd³ of d = (z − shift) − ysum/cnt
	double *tsum;     // [c]: Σ(t − nshift)
	int64_t *sparse;  // [c]
	double *next_sums; // [c][2]: Σd, Σd² of d = (t − nshift) − tsum/cnt
} bnz_an_out;

// bin_index is analysis.binIndex: int(v) for v in [0, nb), nb − 1 for larger v (v is never negative here).
static inline int64_t bin_index(double v, int64_t nb) {
	int64_t k = (int64_t)v;
	return k < nb ? k : nb - 1;
}

// z_clamp1 is min(max(z, −1), 1) + 1, mapping a NaN (whose batch is rejected) to 0 instead of leaving it NaN, so
// that the integer conversion after it is always defined.
static inline double z_clamp1(double z) {
	double zc = z >= -1 ? z : -1;
	return (zc <= 1 ? zc : 1) + 1;
}

// next_bin is analysis.nextBin; a NaN goes to bin 1 (its batch is rejected).
static inline int64_t next_bin(double t, double lo, double scale, int64_t nb) {
	if (t < lo)
		return 0;
	if (t > -lo)
		return nb + 1;
	double v = (t - lo) * scale;
	return bin_index(v >= 0 ? v : 0, nb) + 1;
}

// act_channel is passes 1 and 2 over the activation values of channel k.
static void act_channel(const bnz_an_layer *l, const float *act, int64_t k, const double *shift, const bnz_an_out *o) {
	const int64_t stride = l->c * l->hw, hw = l->hw, nb = l->bins, nh = l->hist_bins;
	const double half = (double)nb / 2, half_h = (double)nh / 2, s = shift[k];
	double *bin = o->sat + k * nb;
	int64_t *zh = o->zhist + k * nh;
	double sy = 0;
	int64_t up = 0, down = 0;
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = act + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			double z = (2 * (double)r[j] - l->sum) * l->inv;
			sy += z - s;
			up += z > l->hi;
			down += z < l->lo;
			double zc = z_clamp1(z);
			bin[bin_index(zc * half, nb)] += z;
			zh[bin_index(zc * half_h, nh)]++;
		}
	}
	o->ysum[k] = sy;
	o->up[k] = up;
	o->down[k] = down;
	const double my = sy / (double)(l->n * hw);
	double sd = 0, s2 = 0, s3 = 0;
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = act + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			double d = ((2 * (double)r[j] - l->sum) * l->inv - s) - my;
			double d2 = d * d;
			sd += d;
			s2 += d2;
			s3 += d2 * d;
		}
	}
	o->act_sums[3 * k] = sd;
	o->act_sums[3 * k + 1] = s2;
	o->act_sums[3 * k + 2] = s3;
}

// next_channel is passes 1 and 2 over the next values of channel k.
static void next_channel(const bnz_an_layer *l, const float *next, int64_t k, const double *nshift, const bnz_an_out *o) {
	const int64_t stride = l->c * l->hw, hw = l->hw, nb = l->next_bins;
	const double s = nshift[k];
	int64_t *h = o->nhist + k * (nb + 2);
	double sy = 0;
	int64_t sparse = 0;
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = next + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			float x = r[j];
			sparse += (x <= l->tau) - (x < -l->tau);
			double t = (double)x;
			sy += t - s;
			h[next_bin(t, l->next_lo, l->next_scale, nb)]++;
		}
	}
	o->tsum[k] = sy;
	o->sparse[k] = sparse;
	const double my = sy / (double)(l->n * hw);
	double sd = 0, s2 = 0;
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = next + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			double d = ((double)r[j] - s) - my;
			sd += d;
			s2 += d * d;
		}
	}
	o->next_sums[2 * k] = sd;
	o->next_sums[2 * k + 1] = s2;
}

#ifdef __AVX2__

// load4 returns the values at position j of the four rows r, r + hw, r + 2hw, r + 3hw: lane q is channel c + q.
static inline __m128 load4(const float *r, int64_t hw, int64_t j) {
	return _mm_set_ps(r[3 * hw + j], r[2 * hw + j], r[hw + j], r[j]);
}

// act_group4 is act_channel for channels k … k+3.
static void act_group4(const bnz_an_layer *l, const float *act, int64_t k, const double *shift, const bnz_an_out *o) {
	const int64_t stride = l->c * l->hw, hw = l->hw, nb = l->bins, nh = l->hist_bins;
	const __m256d vsum = _mm256_set1_pd(l->sum), vinv = _mm256_set1_pd(l->inv), vhi = _mm256_set1_pd(l->hi),
		      vlo = _mm256_set1_pd(l->lo), vm1 = _mm256_set1_pd(-1), vp1 = _mm256_set1_pd(1),
		      vhalf = _mm256_set1_pd((double)nb / 2), vhalfh = _mm256_set1_pd((double)nh / 2),
		      vs = _mm256_loadu_pd(shift + k);
	const __m128i vnb = _mm_set1_epi32((int)(nb - 1)), vnh = _mm_set1_epi32((int)(nh - 1));
	double *bin = o->sat + k * nb;
	int64_t *zh = o->zhist + k * nh;
	__m256d y = _mm256_setzero_pd();
	__m256i up = _mm256_setzero_si256(), down = _mm256_setzero_si256();
	double zs[4];
	int32_t kb[4], kh[4];
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = act + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			__m256d x = _mm256_cvtps_pd(load4(r, hw, j));
			__m256d z = _mm256_mul_pd(_mm256_sub_pd(_mm256_add_pd(x, x), vsum), vinv);
			y = _mm256_add_pd(y, _mm256_sub_pd(z, vs));
			up = _mm256_sub_epi64(up, _mm256_castpd_si256(_mm256_cmp_pd(z, vhi, _CMP_GT_OQ)));
			down = _mm256_sub_epi64(down, _mm256_castpd_si256(_mm256_cmp_pd(z, vlo, _CMP_LT_OQ)));
			// max_pd returns its second operand when the first is a NaN: a NaN maps to −1 (see z_clamp1).
			__m256d zc = _mm256_add_pd(_mm256_min_pd(_mm256_max_pd(z, vm1), vp1), vp1);
			_mm_storeu_si128((__m128i *)kb, _mm_min_epi32(_mm256_cvttpd_epi32(_mm256_mul_pd(zc, vhalf)), vnb));
			_mm_storeu_si128((__m128i *)kh, _mm_min_epi32(_mm256_cvttpd_epi32(_mm256_mul_pd(zc, vhalfh)), vnh));
			_mm256_storeu_pd(zs, z);
			bin[kb[0]] += zs[0];
			bin[nb + kb[1]] += zs[1];
			bin[2 * nb + kb[2]] += zs[2];
			bin[3 * nb + kb[3]] += zs[3];
			zh[kh[0]]++;
			zh[nh + kh[1]]++;
			zh[2 * nh + kh[2]]++;
			zh[3 * nh + kh[3]]++;
		}
	}
	_mm256_storeu_pd(o->ysum + k, y);
	_mm256_storeu_si256((__m256i *)(o->up + k), up);
	_mm256_storeu_si256((__m256i *)(o->down + k), down);

	const double cnt = (double)(l->n * hw);
	const __m256d my = _mm256_div_pd(y, _mm256_set1_pd(cnt));
	__m256d sd = _mm256_setzero_pd(), s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = act + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			__m256d x = _mm256_cvtps_pd(load4(r, hw, j));
			__m256d z = _mm256_mul_pd(_mm256_sub_pd(_mm256_add_pd(x, x), vsum), vinv);
			__m256d d = _mm256_sub_pd(_mm256_sub_pd(z, vs), my);
			__m256d d2 = _mm256_mul_pd(d, d);
			sd = _mm256_add_pd(sd, d);
			s2 = _mm256_add_pd(s2, d2);
			s3 = _mm256_add_pd(s3, _mm256_mul_pd(d2, d));
		}
	}
	double a[4], b[4], c[4];
	_mm256_storeu_pd(a, sd);
	_mm256_storeu_pd(b, s2);
	_mm256_storeu_pd(c, s3);
	for (int q = 0; q < 4; q++) {
		o->act_sums[3 * (k + q)] = a[q];
		o->act_sums[3 * (k + q) + 1] = b[q];
		o->act_sums[3 * (k + q) + 2] = c[q];
	}
}

// mask32 packs the four 64-bit lane masks of m into four 32-bit lanes.
static inline __m128i mask32(__m256d m) {
	return _mm256_castsi256_si128(
		_mm256_permutevar8x32_epi32(_mm256_castpd_si256(m), _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
}

// next_group4 is next_channel for channels k … k+3.
static void next_group4(const bnz_an_layer *l, const float *next, int64_t k, const double *nshift, const bnz_an_out *o) {
	const int64_t stride = l->c * l->hw, hw = l->hw, nb = l->next_bins;
	const __m128 vtau = _mm_set1_ps(l->tau), vntau = _mm_set1_ps(-l->tau);
	const __m256d vs = _mm256_loadu_pd(nshift + k), vlo = _mm256_set1_pd(l->next_lo),
		      vhi = _mm256_set1_pd(-l->next_lo), vscale = _mm256_set1_pd(l->next_scale),
		      vzero = _mm256_setzero_pd(), vnbd = _mm256_set1_pd((double)nb);
	const __m128i vnb = _mm_set1_epi32((int)(nb - 1)), vone = _mm_set1_epi32(1), vover = _mm_set1_epi32((int)(nb + 1));
	int64_t *h = o->nhist + k * (nb + 2);
	__m256d y = _mm256_setzero_pd();
	__m128i sparse = _mm_setzero_si128();
	int32_t kk[4];
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = next + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			__m128 xf = load4(r, hw, j);
			sparse = _mm_sub_epi32(sparse, _mm_castps_si128(_mm_cmp_ps(xf, vtau, _CMP_LE_OQ)));
			sparse = _mm_add_epi32(sparse, _mm_castps_si128(_mm_cmp_ps(xf, vntau, _CMP_LT_OQ)));
			__m256d t = _mm256_cvtps_pd(xf);
			y = _mm256_add_pd(y, _mm256_sub_pd(t, vs));
			// max_pd maps a NaN to 0 (see next_bin); the clamp to nb keeps the conversion defined.
			__m256d v = _mm256_min_pd(_mm256_max_pd(_mm256_mul_pd(_mm256_sub_pd(t, vlo), vscale), vzero), vnbd);
			__m128i kb = _mm_add_epi32(_mm_min_epi32(_mm256_cvttpd_epi32(v), vnb), vone);
			kb = _mm_andnot_si128(mask32(_mm256_cmp_pd(t, vlo, _CMP_LT_OQ)), kb);
			kb = _mm_blendv_epi8(kb, vover, mask32(_mm256_cmp_pd(t, vhi, _CMP_GT_OQ)));
			_mm_storeu_si128((__m128i *)kk, kb);
			h[kk[0]]++;
			h[(nb + 2) + kk[1]]++;
			h[2 * (nb + 2) + kk[2]]++;
			h[3 * (nb + 2) + kk[3]]++;
		}
	}
	_mm256_storeu_pd(o->tsum + k, y);
	int32_t sp[4];
	_mm_storeu_si128((__m128i *)sp, sparse);
	for (int q = 0; q < 4; q++)
		o->sparse[k + q] = sp[q];

	const double cnt = (double)(l->n * hw);
	const __m256d my = _mm256_div_pd(y, _mm256_set1_pd(cnt));
	__m256d sd = _mm256_setzero_pd(), s2 = _mm256_setzero_pd();
	for (int64_t i = 0; i < l->n; i++) {
		const float *r = next + i * stride + k * hw;
		for (int64_t j = 0; j < hw; j++) {
			__m256d d = _mm256_sub_pd(_mm256_sub_pd(_mm256_cvtps_pd(load4(r, hw, j)), vs), my);
			sd = _mm256_add_pd(sd, d);
			s2 = _mm256_add_pd(s2, _mm256_mul_pd(d, d));
		}
	}
	double a[4], b[4];
	_mm256_storeu_pd(a, sd);
	_mm256_storeu_pd(b, s2);
	for (int q = 0; q < 4; q++) {
		o->next_sums[2 * (k + q)] = a[q];
		o->next_sums[2 * (k + q) + 1] = b[q];
	}
}

#define GROUP 4
#else
#define GROUP 1
#endif

void bnz_analysis_batch(const bnz_an_layer *l, const float *act, const float *next, const double *shift,
		const double *nshift, double *sat, int64_t *zhist, int64_t *nhist, double *ysum, int64_t *up,
		int64_t *down, double *act_sums, double *tsum, int64_t *sparse, double *next_sums) {
	const bnz_an_out o = {sat, zhist, nhist, ysum, up, down, act_sums, tsum, sparse, next_sums}, *out = &o;
	const int64_t groups = (l->c + GROUP - 1) / GROUP;
#pragma omp parallel for schedule(static)
	for (int64_t g = 0; g < groups; g++) {
		int64_t k = g * GROUP, end = k + GROUP < l->c ? k + GROUP : l->c;
#ifdef __AVX2__
		if (end - k == 4) {
			if (l->bounded)
				act_group4(l, act, k, shift, out);
			next_group4(l, next, k, nshift, out);
			continue;
		}
#endif
		for (; k < end; k++) {
			if (l->bounded)
				act_channel(l, act, k, shift, out);
			next_channel(l, next, k, nshift, out);
		}
	}
}
