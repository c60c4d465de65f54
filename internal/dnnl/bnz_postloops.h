//go:build dnnl

// bnzoo's own post-op loops for fused evaluation convolutions (bnz_postloops.c).
#include <stdint.h>

// bnz_own_posts applies, in float32, v = to·tanh(ti·v − ts) when th != 0 and then, when af != 0, v = v·scale[k] +
// shift[k] per channel k, to an (n, o, hw) output in nchw (blk = 1) or nChw<blk>c (blk ≤ 16; padded channels past
// o get scale 1 and shift 0).
void bnz_own_posts(float *y, int64_t n, int64_t o, int64_t hw, int64_t blk, int th, float ti, float ts, float to,
		int af, const float *scale, const float *shift);
