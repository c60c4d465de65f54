//go:build dnnl

// C helpers for package dnnl: build the three convolution primitives of one geometry and run one of them on
// caller-owned plain-layout buffers.
#ifndef BNZ_DNNL_H
#define BNZ_DNNL_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

enum { BNZ_FWD = 0, BNZ_BWD_DATA = 1, BNZ_BWD_WEIGHTS = 2, BNZ_STEPS = 3 };

// bnz_arg is one tensor argument of a primitive.
typedef struct {
	int arg;                  // DNNL_ARG_* index
	int output;               // the primitive writes it
	dnnl_memory_t user;       // plain layout (nchw / oihw); its handle is the caller's buffer during bnz_exec only
	dnnl_memory_t inner;      // the primitive's preferred layout over an arena buffer, or NULL when it is plain
	dnnl_primitive_t reorder; // user → inner for inputs, inner → user for outputs; NULL when inner is NULL
	size_t inner_size;
	char format[32];          // the primitive's layout, for Describe
} bnz_arg;

// bnz_step is one primitive with its arguments, in the order the Go side passes buffers.
typedef struct {
	dnnl_primitive_t prim;
	dnnl_memory_t scratch; // user-mode scratchpad over an arena buffer, or NULL
	size_t scratch_size;
	char impl[64];
	bnz_arg args[3];
} bnz_step;

typedef struct {
	bnz_step step[BNZ_STEPS];
} bnz_conv;

// bnz_conv_create builds forward (training), backward-data and backward-weights primitives for geometry
// g = {N, C, H, W, O, K, stride, pad, groups} (groups ≤ 1: an ordinary convolution; else C and O are multiples of
// groups and the filter is (O, C/groups, K, K)). With plain != 0 the primitives must work on nchw/oihw directly; otherwise
// they choose their layouts (format_tag any) and reorders are added where those are not plain. On failure it
// returns the status and sets *failed to the name of the call that failed.
dnnl_status_t bnz_conv_create(dnnl_engine_t eng, const int64_t g[9], int plain, bnz_conv **out, const char **failed);

void bnz_conv_destroy(bnz_conv *c);

// bnz_exec runs step which of c on the three caller buffers (see bnz_step) and waits for it. The buffers are
// attached to the user memory objects for this call only.
dnnl_status_t bnz_exec(bnz_conv *c, int which, dnnl_stream_t stream, void *p0, void *p1, void *p2,
		const char **failed);

// bnz_arg_init makes a's memory object in the caller's layout user_md and, when the primitive's layout md differs,
// a memory object in md and the reorder between them (user → inner for an input, inner → user for an output).
dnnl_status_t bnz_arg_init(bnz_arg *a, int output, dnnl_engine_t eng, const dnnl_memory_desc_t *user_md,
		const dnnl_memory_desc_t *md, const char **failed);

// bnz_arg_destroy releases what bnz_arg_init made.
void bnz_arg_destroy(bnz_arg *a);

// bnz_reorder runs reorder r from one memory object to another (not waiting for it).
dnnl_status_t bnz_reorder(dnnl_primitive_t r, dnnl_stream_t stream, dnnl_memory_t from, dnnl_memory_t to,
		const char **failed);

// bnz_arena_get returns arena buffer slot (0–3) grown to at least need bytes, or NULL when allocation fails. The
// buffers are shared by every primitive and valid during one call from the oneDNN thread.
void *bnz_arena_get(int slot, size_t need);

// bnz_describe_md writes a short name of md's layout, e.g. "aBcd8b" for nChw8c.
void bnz_describe_md(const dnnl_memory_desc_t *md, char *buf, size_t size);

// bnz_arena_bytes reports the bytes held by the shared reorder/scratchpad buffers.
size_t bnz_arena_bytes(void);

#endif
