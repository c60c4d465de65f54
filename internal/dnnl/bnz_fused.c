//go:build dnnl

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "bnz_dnnl.h"
#include "bnz_fused.h"
#include "bnz_postloops.h"

#define CHECK(fn, args)                      \
	do {                                     \
		dnnl_status_t st_ = fn args;         \
		if (st_ != dnnl_success) {           \
			*failed = #fn;                   \
			return st_;                      \
		}                                    \
	} while (0)

// The arena slots of a fused convolution's (or pool's) tensors in the primitive's own layouts; slot 3 is the
// scratchpad, as in bnz_dnnl.c.
enum { SLOT_SRC = 0, SLOT_WEI = 1, SLOT_DST = 2 };

struct bnz_fused {
	dnnl_primitive_t prim;
	bnz_arg src, wei, dst;
	dnnl_memory_t bias;           // NULL without bias
	dnnl_memory_t vec[2];         // the SCALE and SHIFT vectors (NULL when absent)
	int vec_arg[2];               // their execution argument indices
	int sum;                      // a SUM post-op: the residual is put into dst before the convolution
	int affine;                   // an AFFINE post-op run by bnz_own_posts() after the convolution
	int tanh;                     // a TANH post-op run by bnz_own_posts(): tanh_scale·tanh(tanh_in·x − tanh_shift)
	float tanh_in, tanh_shift, tanh_scale;
	int64_t affine_block;         // the channel block of the primitive's dst layout (1: nchw)
	int64_t n, o, hw;             // output geometry, for affine()
	dnnl_memory_t res;            // the residual in the caller's layout
	dnnl_primitive_t res_reorder; // res → the memory the primitive writes; NULL when the layouts agree (a copy)
	size_t dst_bytes;
	dnnl_memory_t scratch;
	size_t scratch_size;
	char impl[64];
};

// channel_block returns B when md is nchw (B = 1) or nChw<B>c, and 0 for any other layout.
static int64_t channel_block(const dnnl_memory_desc_t *md) {
	if (md->format_kind != dnnl_blocked || md->ndims != 4) {
		return 0;
	}
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	const dnnl_dim_t *pd = md->padded_dims;
	int64_t blk = 1;
	if (b->inner_nblks == 1 && b->inner_idxs[0] == 1 && b->inner_blks[0] <= 16) {
		blk = b->inner_blks[0];
	} else if (b->inner_nblks != 0) {
		return 0;
	}
	// Dense, outermost to innermost: n, c/B, h, w (then the block).
	if (b->strides[3] != blk || b->strides[2] != blk * pd[3] || b->strides[1] != blk * pd[2] * pd[3] ||
			b->strides[0] != pd[1] * pd[2] * pd[3]) {
		return 0;
	}
	return blk;
}

static dnnl_status_t fused_build(bnz_fused *f, dnnl_engine_t eng, const int64_t g[9], const int fmt[3], int bias,
		int npost, const bnz_post *post, dnnl_primitive_attr_t attr, dnnl_post_ops_t po, dnnl_primitive_desc_t *pd,
		const char **failed) {
	const int64_t n = g[0], ch = g[1], h = g[2], w = g[3], o = g[4], k = g[5], s = g[6], p = g[7], gr = g[8];
	const int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
	dnnl_dims_t src_dims = {n, ch, h, w}, dst_dims = {n, o, ho, wo}, vec_dims = {1, o, 1, 1}, bias_dims = {o};
	dnnl_dims_t strides = {s, s}, pad_l = {p, p}, pad_r = {p, p};
	dnnl_dims_t wei_dims = {o, ch, k, k};
	int wei_nd = 4;
	dnnl_format_tag_t wei_tag = dnnl_oihw;
	if (gr > 1) {
		wei_dims[0] = gr;
		wei_dims[1] = o / gr;
		wei_dims[2] = ch / gr;
		wei_dims[3] = k;
		wei_dims[4] = k;
		wei_nd = 5;
		wei_tag = dnnl_goihw;
	}
	dnnl_memory_desc_t src_user, wei_user, dst_user, res_user, src_md, wei_md, dst_md, bias_md, vec_md;
	CHECK(dnnl_memory_desc_init_by_tag, (&src_user, 4, src_dims, dnnl_f32, (dnnl_format_tag_t)fmt[0]));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_user, 4, dst_dims, dnnl_f32, (dnnl_format_tag_t)fmt[1]));
	CHECK(dnnl_memory_desc_init_by_tag, (&res_user, 4, dst_dims, dnnl_f32, (dnnl_format_tag_t)fmt[2]));
	CHECK(dnnl_memory_desc_init_by_tag, (&wei_user, wei_nd, wei_dims, dnnl_f32, wei_tag));
	CHECK(dnnl_memory_desc_init_by_tag, (&src_md, 4, src_dims, dnnl_f32, dnnl_format_tag_any));
	CHECK(dnnl_memory_desc_init_by_tag, (&wei_md, wei_nd, wei_dims, dnnl_f32, dnnl_format_tag_any));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_md, 4, dst_dims, dnnl_f32, dnnl_format_tag_any));
	CHECK(dnnl_memory_desc_init_by_tag, (&bias_md, 1, bias_dims, dnnl_f32, dnnl_a));
	CHECK(dnnl_memory_desc_init_by_tag, (&vec_md, 4, vec_dims, dnnl_f32, dnnl_nchw));

	int nvec = 0;
	f->n = n;
	f->o = o;
	f->hw = ho * wo;
	for (int i = 0; i < npost; i++) {
		switch (post[i].kind) {
		case BNZ_POST_AFFINE:
			if (i != npost - 1) {
				*failed = "bnz_fused_create (an affine post-op must be last)";
				return dnnl_invalid_arguments;
			}
			f->affine = 1;
			break;
		case BNZ_POST_TANH:
			if (f->tanh || f->affine) {
				*failed = "bnz_fused_create (a tanh post-op must come once, before an affine one)";
				return dnnl_invalid_arguments;
			}
			f->tanh = 1;
			f->tanh_in = post[i].alpha;
			f->tanh_shift = post[i].beta;
			f->tanh_scale = post[i].scale;
			break;
		case BNZ_POST_ELTWISE:
			CHECK(dnnl_post_ops_append_eltwise, (po, post[i].scale, (dnnl_alg_kind_t)post[i].alg, post[i].alpha, post[i].beta));
			break;
		case BNZ_POST_SCALE:
		case BNZ_POST_SHIFT: {
			int v = post[i].kind == BNZ_POST_SCALE ? 0 : 1;
			if (f->vec[v] != NULL) {
				*failed = "bnz_fused_create (two scale or shift post-ops)";
				return dnnl_invalid_arguments;
			}
			CHECK(dnnl_post_ops_append_binary, (po, v == 0 ? dnnl_binary_mul : dnnl_binary_add, &vec_md));
			CHECK(dnnl_memory_create, (&f->vec[v], &vec_md, eng, DNNL_MEMORY_NONE));
			f->vec_arg[v] = DNNL_ARG_ATTR_MULTIPLE_POST_OP(i) | DNNL_ARG_SRC_1;
			nvec++;
			break;
		}
		case BNZ_POST_SUM:
			if (f->sum) {
				*failed = "bnz_fused_create (two sum post-ops)";
				return dnnl_invalid_arguments;
			}
			CHECK(dnnl_post_ops_append_sum, (po, 1.0f));
			f->sum = 1;
			break;
		default:
			*failed = "bnz_fused_create (unknown post-op)";
			return dnnl_invalid_arguments;
		}
	}
	CHECK(dnnl_primitive_attr_set_post_ops, (attr, po));

	dnnl_convolution_desc_t cd;
	CHECK(dnnl_convolution_forward_desc_init, (&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md,
			&wei_md, bias ? &bias_md : NULL, &dst_md, strides, pad_l, pad_r));
	CHECK(dnnl_primitive_desc_create, (pd, &cd, attr, eng, NULL));
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl != NULL) {
		snprintf(f->impl, sizeof f->impl, "%s", impl);
	}
	const dnnl_memory_desc_t *psrc = dnnl_primitive_desc_query_md(*pd, dnnl_query_src_md, 0);
	const dnnl_memory_desc_t *pwei = dnnl_primitive_desc_query_md(*pd, dnnl_query_weights_md, 0);
	const dnnl_memory_desc_t *pdst = dnnl_primitive_desc_query_md(*pd, dnnl_query_dst_md, 0);
	if (psrc == NULL || pwei == NULL || pdst == NULL) {
		*failed = "dnnl_primitive_desc_query_md";
		return dnnl_runtime_error;
	}
	if ((f->affine || f->tanh) && (f->affine_block = channel_block(pdst)) == 0) {
		*failed = "bnz_fused_create (the convolution's output layout has no affine loop)";
		return dnnl_unimplemented;
	}
	dnnl_status_t st;
	if ((st = bnz_arg_init(&f->src, 0, eng, &src_user, psrc, failed)) ||
			(st = bnz_arg_init(&f->wei, 0, eng, &wei_user, pwei, failed)) ||
			(st = bnz_arg_init(&f->dst, 1, eng, &dst_user, pdst, failed))) {
		return st;
	}
	if (bias) {
		CHECK(dnnl_memory_create, (&f->bias, &bias_md, eng, DNNL_MEMORY_NONE));
	}
	if (f->sum) {
		f->dst_bytes = dnnl_memory_desc_get_size(pdst);
		CHECK(dnnl_memory_create, (&f->res, &res_user, eng, DNNL_MEMORY_NONE));
		if (!dnnl_memory_desc_equal(&res_user, pdst)) {
			dnnl_primitive_desc_t rpd;
			CHECK(dnnl_reorder_primitive_desc_create, (&rpd, &res_user, eng, pdst, eng, NULL));
			st = dnnl_primitive_create(&f->res_reorder, rpd);
			dnnl_primitive_desc_destroy(rpd);
			if (st != dnnl_success) {
				*failed = "dnnl_primitive_create (residual reorder)";
				return st;
			}
		}
	}
	const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(*pd, dnnl_query_scratchpad_md, 0);
	if (smd != NULL && smd->ndims > 0) {
		f->scratch_size = dnnl_memory_desc_get_size(smd);
		if (f->scratch_size > 0) {
			CHECK(dnnl_memory_create, (&f->scratch, smd, eng, DNNL_MEMORY_NONE));
		}
	}
	CHECK(dnnl_primitive_create, (&f->prim, *pd));
	return dnnl_success;
}

dnnl_status_t bnz_fused_create(dnnl_engine_t eng, const int64_t g[9], const int fmt[3], int bias, int npost,
		const bnz_post *post, bnz_fused **out, const char **failed) {
	*out = NULL;
	if (npost < 0 || npost > BNZ_MAX_POSTS) {
		*failed = "bnz_fused_create (too many post-ops)";
		return dnnl_invalid_arguments;
	}
	bnz_fused *f = calloc(1, sizeof *f);
	if (f == NULL) {
		*failed = "calloc";
		return dnnl_out_of_memory;
	}
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t st = dnnl_primitive_attr_create(&attr);
	if (st != dnnl_success) {
		*failed = "dnnl_primitive_attr_create";
	} else if ((st = dnnl_post_ops_create(&po)) != dnnl_success) {
		*failed = "dnnl_post_ops_create";
	} else if ((st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)) != dnnl_success) {
		*failed = "dnnl_primitive_attr_set_scratchpad_mode";
	} else {
		st = fused_build(f, eng, g, fmt, bias, npost, post, attr, po, &pd, failed);
	}
	if (pd != NULL) dnnl_primitive_desc_destroy(pd);
	if (po != NULL) dnnl_post_ops_destroy(po);
	if (attr != NULL) dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success) {
		bnz_fused_destroy(f);
		return st;
	}
	*out = f;
	return dnnl_success;
}

void bnz_fused_destroy(bnz_fused *f) {
	if (f == NULL) {
		return;
	}
	bnz_arg_destroy(&f->src);
	bnz_arg_destroy(&f->wei);
	bnz_arg_destroy(&f->dst);
	if (f->bias) dnnl_memory_destroy(f->bias);
	for (int i = 0; i < 2; i++) {
		if (f->vec[i]) dnnl_memory_destroy(f->vec[i]);
	}
	if (f->res) dnnl_memory_destroy(f->res);
	if (f->res_reorder) dnnl_primitive_destroy(f->res_reorder);
	if (f->scratch) dnnl_memory_destroy(f->scratch);
	if (f->prim) dnnl_primitive_destroy(f->prim);
	free(f);
}

// attach points a's user memory at ptr and, when a has an inner layout, its inner memory at arena slot slot;
// *m is the memory the primitive reads or writes.
static dnnl_status_t attach(bnz_arg *a, int slot, void *ptr, dnnl_memory_t *m, const char **failed) {
	CHECK(dnnl_memory_set_data_handle, (a->user, ptr));
	*m = a->user;
	if (a->inner != NULL) {
		void *buf = bnz_arena_get(slot, a->inner_size);
		if (buf == NULL) {
			*failed = "aligned_alloc";
			return dnnl_out_of_memory;
		}
		CHECK(dnnl_memory_set_data_handle, (a->inner, buf));
		*m = a->inner;
	}
	return dnnl_success;
}

static dnnl_status_t fused_run(bnz_fused *f, dnnl_stream_t stream, void *x, void *w, void *bias, void *scale,
		void *shift, void *res, void *y, const char **failed) {
	dnnl_exec_arg_t args[8];
	int nargs = 0;
	dnnl_memory_t ms, mw, md;
	dnnl_status_t st;
	if ((st = attach(&f->src, SLOT_SRC, x, &ms, failed)) || (st = attach(&f->wei, SLOT_WEI, w, &mw, failed)) ||
			(st = attach(&f->dst, SLOT_DST, y, &md, failed))) {
		return st;
	}
	args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, ms};
	args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, mw};
	args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, md};
	if (f->bias != NULL) {
		CHECK(dnnl_memory_set_data_handle, (f->bias, bias));
		args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, f->bias};
	}
	void *vecs[2] = {scale, shift};
	for (int i = 0; i < 2; i++) {
		if (f->vec[i] != NULL) {
			CHECK(dnnl_memory_set_data_handle, (f->vec[i], vecs[i]));
			args[nargs++] = (dnnl_exec_arg_t){f->vec_arg[i], f->vec[i]};
		}
	}
	if (f->scratch != NULL) {
		void *buf = bnz_arena_get(3, f->scratch_size);
		if (buf == NULL) {
			*failed = "aligned_alloc";
			return dnnl_out_of_memory;
		}
		CHECK(dnnl_memory_set_data_handle, (f->scratch, buf));
		args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, f->scratch};
	}
	if (f->src.reorder != NULL && (st = bnz_reorder(f->src.reorder, stream, f->src.user, f->src.inner, failed))) {
		return st;
	}
	if (f->wei.reorder != NULL && (st = bnz_reorder(f->wei.reorder, stream, f->wei.user, f->wei.inner, failed))) {
		return st;
	}
	if (f->sum) {
		CHECK(dnnl_memory_set_data_handle, (f->res, res));
		if (f->res_reorder != NULL) {
			if ((st = bnz_reorder(f->res_reorder, stream, f->res, md, failed))) {
				return st;
			}
		} else {
			void *to = NULL;
			CHECK(dnnl_memory_get_data_handle, (md, &to));
			if (to != res) {
				memcpy(to, res, f->dst_bytes);
			}
		}
	}
	CHECK(dnnl_primitive_execute, (f->prim, stream, nargs, args));
	if (f->affine || f->tanh) {
		void *out = NULL;
		CHECK(dnnl_stream_wait, (stream));
		CHECK(dnnl_memory_get_data_handle, (md, &out));
		bnz_own_posts((float *)out, f->n, f->o, f->hw, f->affine_block, f->tanh, f->tanh_in, f->tanh_shift,
				f->tanh_scale, f->affine, (const float *)scale, (const float *)shift);
	}
	if (f->dst.reorder != NULL && (st = bnz_reorder(f->dst.reorder, stream, f->dst.inner, f->dst.user, failed))) {
		return st;
	}
	CHECK(dnnl_stream_wait, (stream));
	return dnnl_success;
}

dnnl_status_t bnz_fused_exec(bnz_fused *f, dnnl_stream_t stream, void *x, void *w, void *bias, void *scale,
		void *shift, void *res, void *y, const char **failed) {
	dnnl_status_t st = fused_run(f, stream, x, w, bias, scale, shift, res, y, failed);
	// Detach the caller's buffers whatever happened: no Go pointer may outlive the call.
	dnnl_memory_t ms[] = {f->src.user, f->wei.user, f->dst.user, f->bias, f->vec[0], f->vec[1], f->res};
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		if (ms[i] != NULL) {
			dnnl_memory_set_data_handle(ms[i], DNNL_MEMORY_NONE);
		}
	}
	return st;
}

void bnz_fused_describe(const bnz_fused *f, char *buf, size_t size) {
	snprintf(buf, size, "%s [%s%s, %s%s, %s%s]", f->impl, f->src.format, f->src.reorder ? " (reordered)" : "",
			f->wei.format, f->wei.reorder ? " (reordered)" : "", f->dst.format, f->dst.reorder ? " (reordered)" : "");
}

// The pool runs in its source's layout (oneDNN's max-pool keeps the layout it is given); a destination in
// another layout gets a reorder from arena slot 2.
struct bnz_pool {
	dnnl_primitive_t prim;
	dnnl_memory_t src;
	bnz_arg dst;
	char impl[64];
};

static dnnl_status_t pool_build(bnz_pool *p, dnnl_engine_t eng, const int64_t g[6], const int fmt[2],
		dnnl_primitive_desc_t *pd, const char **failed) {
	const int64_t n = g[0], c = g[1], h = g[2], w = g[3], k = g[4], s = g[5];
	dnnl_dims_t src_dims = {n, c, h, w}, dst_dims = {n, c, (h - k) / s + 1, (w - k) / s + 1};
	dnnl_dims_t strides = {s, s}, kernel = {k, k}, pad = {0, 0};
	dnnl_memory_desc_t src_md, dst_user, dst_md;
	CHECK(dnnl_memory_desc_init_by_tag, (&src_md, 4, src_dims, dnnl_f32, (dnnl_format_tag_t)fmt[0]));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_user, 4, dst_dims, dnnl_f32, (dnnl_format_tag_t)fmt[1]));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_md, 4, dst_dims, dnnl_f32, (dnnl_format_tag_t)fmt[0]));
	dnnl_pooling_desc_t desc;
	CHECK(dnnl_pooling_forward_desc_init, (&desc, dnnl_forward_inference, dnnl_pooling_max, &src_md, &dst_md,
			strides, kernel, pad, pad));
	CHECK(dnnl_primitive_desc_create, (pd, &desc, NULL, eng, NULL));
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(*pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl != NULL) {
		snprintf(p->impl, sizeof p->impl, "%s", impl);
	}
	const dnnl_memory_desc_t *pdst = dnnl_primitive_desc_query_md(*pd, dnnl_query_dst_md, 0);
	if (pdst == NULL) {
		*failed = "dnnl_primitive_desc_query_md";
		return dnnl_runtime_error;
	}
	CHECK(dnnl_memory_create, (&p->src, &src_md, eng, DNNL_MEMORY_NONE));
	dnnl_status_t st = bnz_arg_init(&p->dst, 1, eng, &dst_user, pdst, failed);
	if (st != dnnl_success) {
		return st;
	}
	CHECK(dnnl_primitive_create, (&p->prim, *pd));
	return dnnl_success;
}

dnnl_status_t bnz_pool_create(dnnl_engine_t eng, const int64_t g[6], const int fmt[2], bnz_pool **out,
		const char **failed) {
	*out = NULL;
	bnz_pool *p = calloc(1, sizeof *p);
	if (p == NULL) {
		*failed = "calloc";
		return dnnl_out_of_memory;
	}
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t st = pool_build(p, eng, g, fmt, &pd, failed);
	if (pd != NULL) dnnl_primitive_desc_destroy(pd);
	if (st != dnnl_success) {
		bnz_pool_destroy(p);
		return st;
	}
	*out = p;
	return dnnl_success;
}

void bnz_pool_destroy(bnz_pool *p) {
	if (p == NULL) {
		return;
	}
	if (p->prim) dnnl_primitive_destroy(p->prim);
	if (p->src) dnnl_memory_destroy(p->src);
	bnz_arg_destroy(&p->dst);
	free(p);
}

static dnnl_status_t pool_run(bnz_pool *p, dnnl_stream_t stream, void *x, void *y, const char **failed) {
	dnnl_memory_t md;
	dnnl_status_t st;
	CHECK(dnnl_memory_set_data_handle, (p->src, x));
	if ((st = attach(&p->dst, SLOT_DST, y, &md, failed))) {
		return st;
	}
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, p->src}, {DNNL_ARG_DST, md}};
	CHECK(dnnl_primitive_execute, (p->prim, stream, 2, args));
	if (p->dst.reorder != NULL && (st = bnz_reorder(p->dst.reorder, stream, p->dst.inner, p->dst.user, failed))) {
		return st;
	}
	CHECK(dnnl_stream_wait, (stream));
	return dnnl_success;
}

dnnl_status_t bnz_pool_exec(bnz_pool *p, dnnl_stream_t stream, void *x, void *y, const char **failed) {
	dnnl_status_t st = pool_run(p, stream, x, y, failed);
	dnnl_memory_set_data_handle(p->src, DNNL_MEMORY_NONE);
	dnnl_memory_set_data_handle(p->dst.user, DNNL_MEMORY_NONE);
	return st;
}
