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

void bnz_analysis_batch(const bnz_an_layer *l, const float *act, const float *next, const double *shift,
		const double *nshift, double *sat, int64_t *zhist, int64_t *nhist, double *ysum, int64_t *up,
		int64_t *down, double *act_sums, double *tsum, int64_t *sparse, double *next_sums);
