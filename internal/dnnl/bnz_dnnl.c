//go:build dnnl

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnz_dnnl.h"

// CHECK runs fn args and returns its status from the enclosing function, naming fn in *failed, when it fails.
#define CHECK(fn, args)                      \
	do {                                     \
		dnnl_status_t st_ = fn args;         \
		if (st_ != dnnl_success) {           \
			*failed = #fn;                   \
			return st_;                      \
		}                                    \
	} while (0)

// The arena: buffers for the primitives' own layouts (one per argument position) and for the scratchpad, shared by
// every cached convolution. They are only needed during one bnz_exec, and bnz_exec is only called from one thread
// (the Go side's oneDNN goroutine), so sharing them costs nothing and keeps memory to the largest layer's needs.
static void *arena[4];
static size_t arena_size[4];

void *bnz_arena_get(int slot, size_t need) {
	if (need <= arena_size[slot]) {
		return arena[slot];
	}
	free(arena[slot]);
	size_t size = (need + 4095) & ~(size_t)4095;
	arena[slot] = aligned_alloc(4096, size);
	arena_size[slot] = arena[slot] ? size : 0;
	return arena[slot];
}

size_t bnz_arena_bytes(void) {
	return arena_size[0] + arena_size[1] + arena_size[2] + arena_size[3];
}

// bnz_describe_md writes a short name of md's layout: dimensions from outermost to innermost (letters a, b, c, d, upper
// case when blocked) followed by the inner blocks, e.g. "aBcd16b" for nChw16c.
void bnz_describe_md(const dnnl_memory_desc_t *md, char *buf, size_t size) {
	if (md->format_kind != dnnl_blocked) {
		snprintf(buf, size, "kind %d", (int)md->format_kind);
		return;
	}
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	int order[DNNL_MAX_NDIMS], blocked[DNNL_MAX_NDIMS] = {0};
	for (int i = 0; i < md->ndims; i++) {
		order[i] = i;
	}
	for (int i = 0; i < b->inner_nblks; i++) {
		blocked[b->inner_idxs[i]] = 1;
	}
	for (int i = 1; i < md->ndims; i++) { // stable insertion sort by decreasing outer stride
		for (int j = i; j > 0 && b->strides[order[j]] > b->strides[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	size_t n = 0;
	for (int i = 0; i < md->ndims && n + 1 < size; i++) {
		buf[n++] = (char)((blocked[order[i]] ? 'A' : 'a') + order[i]);
	}
	buf[n] = 0;
	for (int i = 0; i < b->inner_nblks && n + 1 < size; i++) {
		int w = snprintf(buf + n, size - n, "%lld%c", (long long)b->inner_blks[i], (char)('a' + b->inner_idxs[i]));
		if (w < 0) {
			break;
		}
		n += (size_t)w;
	}
}

dnnl_status_t bnz_arg_init(bnz_arg *a, int output, dnnl_engine_t eng, const dnnl_memory_desc_t *user_md,
		const dnnl_memory_desc_t *md, const char **failed) {
	a->output = output;
	bnz_describe_md(md, a->format, sizeof a->format);
	CHECK(dnnl_memory_create, (&a->user, user_md, eng, DNNL_MEMORY_NONE));
	if (dnnl_memory_desc_equal(md, user_md)) {
		return dnnl_success;
	}
	a->inner_size = dnnl_memory_desc_get_size(md);
	CHECK(dnnl_memory_create, (&a->inner, md, eng, DNNL_MEMORY_NONE));
	dnnl_primitive_desc_t rpd;
	if (output) {
		CHECK(dnnl_reorder_primitive_desc_create, (&rpd, md, eng, user_md, eng, NULL));
	} else {
		CHECK(dnnl_reorder_primitive_desc_create, (&rpd, user_md, eng, md, eng, NULL));
	}
	dnnl_status_t st = dnnl_primitive_create(&a->reorder, rpd);
	dnnl_primitive_desc_destroy(rpd);
	if (st != dnnl_success) {
		*failed = "dnnl_primitive_create (reorder)";
	}
	return st;
}

void bnz_arg_destroy(bnz_arg *a) {
	if (a->reorder) dnnl_primitive_destroy(a->reorder);
	if (a->inner) dnnl_memory_destroy(a->inner);
	if (a->user) dnnl_memory_destroy(a->user);
}

// setup_arg prepares argument position pos of step s (bnz_arg_init) in the primitive's layout for it, queried
// with what.
static dnnl_status_t setup_arg(bnz_step *s, int pos, int arg, int output, dnnl_engine_t eng,
		const dnnl_memory_desc_t *user_md, const_dnnl_primitive_desc_t pd, dnnl_query_t what, const char **failed) {
	bnz_arg *a = &s->args[pos];
	a->arg = arg;
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
	if (md == NULL) {
		*failed = "dnnl_primitive_desc_query_md";
		return dnnl_runtime_error;
	}
	return bnz_arg_init(a, output, eng, user_md, md, failed);
}

// setup_step creates the primitive of pd, its scratchpad memory object and its name.
static dnnl_status_t setup_step(bnz_step *s, dnnl_engine_t eng, const_dnnl_primitive_desc_t pd, const char **failed) {
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl != NULL) {
		snprintf(s->impl, sizeof s->impl, "%s", impl);
	}
	const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (smd != NULL && smd->ndims > 0) {
		s->scratch_size = dnnl_memory_desc_get_size(smd);
		if (s->scratch_size > 0) {
			CHECK(dnnl_memory_create, (&s->scratch, smd, eng, DNNL_MEMORY_NONE));
		}
	}
	CHECK(dnnl_primitive_create, (&s->prim, pd));
	return dnnl_success;
}

static dnnl_status_t conv_create(dnnl_engine_t eng, const int64_t g[9], int plain, bnz_conv *c,
		dnnl_primitive_attr_t attr, dnnl_primitive_desc_t pd[3], const char **failed) {
	const int64_t n = g[0], ch = g[1], h = g[2], w = g[3], o = g[4], k = g[5], s = g[6], p = g[7], gr = g[8];
	const int64_t ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
	dnnl_dims_t src_dims = {n, ch, h, w}, dst_dims = {n, o, ho, wo};
	dnnl_dims_t strides = {s, s}, pad_l = {p, p}, pad_r = {p, p};
	// Grouped (gr > 1): weights (gr, o/gr, ch/gr, k, k) in goihw, the same bytes as the caller's (o, ch/gr, k, k).
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
	dnnl_memory_desc_t src_user, wei_user, dst_user, src_md, wei_md, dst_md;
	CHECK(dnnl_memory_desc_init_by_tag, (&src_user, 4, src_dims, dnnl_f32, dnnl_nchw));
	CHECK(dnnl_memory_desc_init_by_tag, (&wei_user, wei_nd, wei_dims, dnnl_f32, wei_tag));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_user, 4, dst_dims, dnnl_f32, dnnl_nchw));
	dnnl_format_tag_t act = plain ? dnnl_nchw : dnnl_format_tag_any, wt = plain ? wei_tag : dnnl_format_tag_any;
	CHECK(dnnl_memory_desc_init_by_tag, (&src_md, 4, src_dims, dnnl_f32, act));
	CHECK(dnnl_memory_desc_init_by_tag, (&wei_md, wei_nd, wei_dims, dnnl_f32, wt));
	CHECK(dnnl_memory_desc_init_by_tag, (&dst_md, 4, dst_dims, dnnl_f32, act));

	dnnl_convolution_desc_t fwd, bwd_data, bwd_weights;
	CHECK(dnnl_convolution_forward_desc_init, (&fwd, dnnl_forward_training, dnnl_convolution_direct, &src_md,
			&wei_md, NULL, &dst_md, strides, pad_l, pad_r));
	CHECK(dnnl_convolution_backward_data_desc_init, (&bwd_data, dnnl_convolution_direct, &src_md, &wei_md, &dst_md,
			strides, pad_l, pad_r));
	CHECK(dnnl_convolution_backward_weights_desc_init, (&bwd_weights, dnnl_convolution_direct, &src_md, &wei_md,
			NULL, &dst_md, strides, pad_l, pad_r));
	CHECK(dnnl_primitive_desc_create, (&pd[BNZ_FWD], &fwd, attr, eng, NULL));
	CHECK(dnnl_primitive_desc_create, (&pd[BNZ_BWD_DATA], &bwd_data, attr, eng, pd[BNZ_FWD]));
	CHECK(dnnl_primitive_desc_create, (&pd[BNZ_BWD_WEIGHTS], &bwd_weights, attr, eng, pd[BNZ_FWD]));

	dnnl_status_t st;
	bnz_step *f = &c->step[BNZ_FWD], *bd = &c->step[BNZ_BWD_DATA], *bw = &c->step[BNZ_BWD_WEIGHTS];
	// Argument positions follow the Go API: Forward(x, w, y), BackwardData(w, dy, dx), BackwardWeights(x, dy, dw).
	if ((st = setup_arg(f, 0, DNNL_ARG_SRC, 0, eng, &src_user, pd[BNZ_FWD], dnnl_query_src_md, failed)) ||
			(st = setup_arg(f, 1, DNNL_ARG_WEIGHTS, 0, eng, &wei_user, pd[BNZ_FWD], dnnl_query_weights_md, failed)) ||
			(st = setup_arg(f, 2, DNNL_ARG_DST, 1, eng, &dst_user, pd[BNZ_FWD], dnnl_query_dst_md, failed)) ||
			(st = setup_step(f, eng, pd[BNZ_FWD], failed)) ||
			(st = setup_arg(bd, 0, DNNL_ARG_WEIGHTS, 0, eng, &wei_user, pd[BNZ_BWD_DATA], dnnl_query_weights_md, failed)) ||
			(st = setup_arg(bd, 1, DNNL_ARG_DIFF_DST, 0, eng, &dst_user, pd[BNZ_BWD_DATA], dnnl_query_diff_dst_md, failed)) ||
			(st = setup_arg(bd, 2, DNNL_ARG_DIFF_SRC, 1, eng, &src_user, pd[BNZ_BWD_DATA], dnnl_query_diff_src_md, failed)) ||
			(st = setup_step(bd, eng, pd[BNZ_BWD_DATA], failed)) ||
			(st = setup_arg(bw, 0, DNNL_ARG_SRC, 0, eng, &src_user, pd[BNZ_BWD_WEIGHTS], dnnl_query_src_md, failed)) ||
			(st = setup_arg(bw, 1, DNNL_ARG_DIFF_DST, 0, eng, &dst_user, pd[BNZ_BWD_WEIGHTS], dnnl_query_diff_dst_md, failed)) ||
			(st = setup_arg(bw, 2, DNNL_ARG_DIFF_WEIGHTS, 1, eng, &wei_user, pd[BNZ_BWD_WEIGHTS], dnnl_query_diff_weights_md, failed)) ||
			(st = setup_step(bw, eng, pd[BNZ_BWD_WEIGHTS], failed))) {
		return st;
	}
	return dnnl_success;
}

dnnl_status_t bnz_conv_create(dnnl_engine_t eng, const int64_t g[9], int plain, bnz_conv **out, const char **failed) {
	*out = NULL;
	bnz_conv *c = calloc(1, sizeof *c);
	if (c == NULL) {
		*failed = "calloc";
		return dnnl_out_of_memory;
	}
	dnnl_primitive_attr_t attr;
	dnnl_status_t st = dnnl_primitive_attr_create(&attr);
	if (st != dnnl_success) {
		*failed = "dnnl_primitive_attr_create";
		free(c);
		return st;
	}
	dnnl_primitive_desc_t pd[3] = {NULL, NULL, NULL};
	st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (st != dnnl_success) {
		*failed = "dnnl_primitive_attr_set_scratchpad_mode";
	} else {
		st = conv_create(eng, g, plain, c, attr, pd, failed);
	}
	for (int i = 0; i < 3; i++) {
		if (pd[i] != NULL) {
			dnnl_primitive_desc_destroy(pd[i]);
		}
	}
	dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success) {
		bnz_conv_destroy(c);
		return st;
	}
	*out = c;
	return dnnl_success;
}

void bnz_conv_destroy(bnz_conv *c) {
	if (c == NULL) {
		return;
	}
	for (int i = 0; i < BNZ_STEPS; i++) {
		bnz_step *s = &c->step[i];
		for (int j = 0; j < 3; j++) {
			bnz_arg_destroy(&s->args[j]);
		}
		if (s->scratch) dnnl_memory_destroy(s->scratch);
		if (s->prim) dnnl_primitive_destroy(s->prim);
	}
	free(c);
}

dnnl_status_t bnz_reorder(dnnl_primitive_t r, dnnl_stream_t stream, dnnl_memory_t from, dnnl_memory_t to,
		const char **failed) {
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
	dnnl_status_t st = dnnl_primitive_execute(r, stream, 2, args);
	if (st != dnnl_success) {
		*failed = "dnnl_primitive_execute (reorder)";
	}
	return st;
}

static dnnl_status_t exec(bnz_step *s, dnnl_stream_t stream, void *ptr[3], const char **failed) {
	dnnl_exec_arg_t args[4];
	int nargs = 0;
	for (int i = 0; i < 3; i++) {
		bnz_arg *a = &s->args[i];
		CHECK(dnnl_memory_set_data_handle, (a->user, ptr[i]));
		dnnl_memory_t m = a->user;
		if (a->inner != NULL) {
			void *buf = bnz_arena_get(i, a->inner_size);
			if (buf == NULL) {
				*failed = "aligned_alloc";
				return dnnl_out_of_memory;
			}
			CHECK(dnnl_memory_set_data_handle, (a->inner, buf));
			m = a->inner;
		}
		args[nargs].arg = a->arg;
		args[nargs].memory = m;
		nargs++;
	}
	if (s->scratch != NULL) {
		void *buf = bnz_arena_get(3, s->scratch_size);
		if (buf == NULL) {
			*failed = "aligned_alloc";
			return dnnl_out_of_memory;
		}
		CHECK(dnnl_memory_set_data_handle, (s->scratch, buf));
		args[nargs].arg = DNNL_ARG_SCRATCHPAD;
		args[nargs].memory = s->scratch;
		nargs++;
	}
	for (int i = 0; i < 3; i++) {
		bnz_arg *a = &s->args[i];
		dnnl_status_t st;
		if (!a->output && a->reorder != NULL && (st = bnz_reorder(a->reorder, stream, a->user, a->inner, failed))) {
			return st;
		}
	}
	CHECK(dnnl_primitive_execute, (s->prim, stream, nargs, args));
	for (int i = 0; i < 3; i++) {
		bnz_arg *a = &s->args[i];
		dnnl_status_t st;
		if (a->output && a->reorder != NULL && (st = bnz_reorder(a->reorder, stream, a->inner, a->user, failed))) {
			return st;
		}
	}
	CHECK(dnnl_stream_wait, (stream));
	return dnnl_success;
}

dnnl_status_t bnz_exec(bnz_conv *c, int which, dnnl_stream_t stream, void *p0, void *p1, void *p2,
		const char **failed) {
	void *ptr[3] = {p0, p1, p2};
	bnz_step *s = &c->step[which];
	dnnl_status_t st = exec(s, stream, ptr, failed);
	// Detach the caller's buffers whatever happened: no Go pointer may outlive the call.
	for (int i = 0; i < 3; i++) {
		if (s->args[i].user != NULL) {
			dnnl_memory_set_data_handle(s->args[i].user, DNNL_MEMORY_NONE);
		}
	}
	return st;
}


