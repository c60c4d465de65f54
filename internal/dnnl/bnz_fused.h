//go:build dnnl

// A fused evaluation convolution (bnz_fused.c): one oneDNN forward-inference convolution with an optional bias and
// a chain of post-ops — elementwise functions, a per-channel scale and shift, the sum of a residual — whose input,
// output and residual may each be in the plain nchw layout or in oneDNN's blocked nChw8c/nChw16c layout.
#ifndef BNZ_FUSED_H
#define BNZ_FUSED_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

enum { BNZ_POST_ELTWISE = 1, BNZ_POST_SCALE = 2, BNZ_POST_SHIFT = 3, BNZ_POST_SUM = 4, BNZ_POST_AFFINE = 5,
	BNZ_POST_TANH = 6, BNZ_MAX_POSTS = 8 };

// bnz_post is one post-op: an elementwise function (alg, alpha, beta as dnnl_post_ops_append_eltwise takes them),
// a multiplication by or an addition of a per-channel vector, the sum of the residual, or (AFFINE, last only) the
// per-channel y·scale + shift, which bnzoo's own loop applies to the convolution's output where its layout is
// nchw or nChw8c/nChw16c (oneDNN 2.6's binary post-ops for the same cost 1.5–3× more) and binary post-ops do
// elsewhere. TANH (after every oneDNN post-op, before AFFINE) is scale·tanh(alpha·x − beta) in bnzoo's loop too:
// oneDNN 2.6's AVX2 tanh gathers from a table, slow on AMD's cores (4 ns a value here, 8× the rest of the loop).
typedef struct {
	int kind;
	int alg;
	float alpha, beta;
	float scale; // the eltwise result's factor
} bnz_post;

typedef struct bnz_fused bnz_fused;

// bnz_fused_create builds the convolution of geometry g (as bnz_conv_create) with layouts fmt = {src, dst,
// residual} (dnnl_nchw, dnnl_nChw8c or dnnl_nChw16c), a bias when bias != 0 and the npost post-ops of post.
dnnl_status_t bnz_fused_create(dnnl_engine_t eng, const int64_t g[9], const int fmt[3], int bias, int npost,
		const bnz_post *post, bnz_fused **out, const char **failed);

void bnz_fused_destroy(bnz_fused *f);

// bnz_fused_exec runs f: y = post-ops(conv(x, w) + bias), with scale and shift the per-channel vectors of the
// SCALE and SHIFT post-ops and res the residual of a SUM post-op (NULL where unused). The caller's buffers are
// attached for this call only.
dnnl_status_t bnz_fused_exec(bnz_fused *f, dnnl_stream_t stream, void *x, void *w, void *bias, void *scale,
		void *shift, void *res, void *y, const char **failed);

// bnz_fused_describe writes the implementation and the src/weights/dst layouts the primitive runs on.
void bnz_fused_describe(const bnz_fused *f, char *buf, size_t size);


// A max-pool for fused evaluation graphs: k×k windows, stride s, no padding, src and dst each nchw or blocked.
typedef struct bnz_pool bnz_pool;

// bnz_pool_create builds the pool of g = {N, C, H, W, K, stride} with layouts fmt = {src, dst}.
dnnl_status_t bnz_pool_create(dnnl_engine_t eng, const int64_t g[6], const int fmt[2], bnz_pool **out,
		const char **failed);
void bnz_pool_destroy(bnz_pool *p);
dnnl_status_t bnz_pool_exec(bnz_pool *p, dnnl_stream_t stream, void *x, void *y, const char **failed);

#endif
