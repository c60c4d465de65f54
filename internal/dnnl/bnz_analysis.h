//go:build dnnl

// The analysis kernels (bnz_analysis.c): one batch of one tapped layer into per-channel sums and histograms.
#include <stdint.h>

// bnz_an_layer is one layer's geometry and constants (see analysis.Accumulator): z = (2a − sum)·inv, the saturated
// bands z > hi and z < lo, bins saturation bins and hist_bins z bins over [−1, 1], next_bins bins of next over
// [next_lo, −next_lo] at next_scale bins per unit, sparsity |t| ≤ tau.
typedef struct {
	int64_t n, c, hw;
	int64_t bounded;
	double sum, inv, hi, lo;
	int64_t bins, hist_bins, next_bins;
	double next_lo, next_scale;
	float tau;
} bnz_an_layer;

void bnz_analysis_batch(const bnz_an_layer *l, const float *act, const float *next, const double *shift,
		const double *nshift, double *sat, int64_t *zhist, int64_t *nhist, double *ysum, int64_t *up,
		int64_t *down, double *act_sums, double *tsum, int64_t *sparse, double *next_sums);
