// SPDX-License-Identifier: Apache-2.0
/*
 * The ring-buffer reader and the output: each record the probe submitted is copied, cut to its
 * header's size, into a 1 MiB batch written to stdout when full and once per loop tick; the
 * loader's own control frames (ready, stats, prevent, sync; FORMAT.md) go through the same batch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"

/* ------------------------------------------------------------------ output batching */

void vp_out_flush(struct vp_ctx *ctx)
{
	struct vp_out *o = &ctx->out;
	size_t done = 0;

	while (done < o->len && !o->closed) {
		ssize_t w = write(STDOUT_FILENO, o->buf + done, o->len - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->closed = true; /* EPIPE: the reader went away */
			break;
		}
		done += (size_t)w;
	}
	o->len = 0;
}

static void emit(struct vp_ctx *ctx, const void *data, size_t size)
{
	struct vp_out *o = &ctx->out;

	if (o->len + size > VP_OUT_CAP)
		vp_out_flush(ctx);
	if (size > VP_OUT_CAP)
		return;
	memcpy(o->buf + o->len, data, size);
	o->len += size;
	o->frames++;
}

/* ------------------------------------------------------------------ ring-buffer reader */

static int on_record(void *c, void *data, size_t size)
{
	const struct vigil_hdr *h = data;

	/* the header's size is authoritative: the record may carry ring-buffer padding */
	if (size >= sizeof(*h) && h->size >= sizeof(*h) && h->size <= size)
		size = h->size;
	emit(c, data, size);
	return 0;
}

int vp_rb_open(struct vp_ctx *ctx)
{
	ctx->rb = ring_buffer__new(bpf_map__fd(ctx->maps.events), on_record, ctx, NULL);
	return ctx->rb ? 0 : -errno;
}

int vp_rb_consume(struct vp_ctx *ctx)
{
	return ring_buffer__consume(ctx->rb);
}

/* the ring's own map fd, not libbpf's epoll fd: poll() on it reports data already pending
 * (level), which the epoll fd forgets once a wake-up has been seen and the ring drained */
int vp_rb_fd(struct vp_ctx *ctx)
{
	return bpf_map__fd(ctx->maps.events);
}

void vp_rb_close(struct vp_ctx *ctx)
{
	ring_buffer__free(ctx->rb);
	ctx->rb = NULL;
}

/* ------------------------------------------------------------------ control frames */

__u64 vp_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void ctl_header(struct vigil_hdr *h, __u16 type, __u32 size)
{
	memset(h, 0, sizeof(*h));
	h->size = size;
	h->type = type;
	h->version = VIGIL_WIRE_VERSION;
	h->ts = vp_clock_ns(CLOCK_BOOTTIME);
	h->pid = (__u32)getpid();
	h->tid = h->pid;
	h->loginuid = 0xffffffffu;
	memcpy(h->comm, "vigil-probe", 12);
}

void vp_emit_ready(struct vp_ctx *ctx)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_ready)];
	struct vigil_ctl_ready r;

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_READY, sizeof(f));
	r.realtime_ns = vp_clock_ns(CLOCK_REALTIME);
	r.boottime_ns = vp_clock_ns(CLOCK_BOOTTIME);
	r.ncpus = (__u32)ctx->ncpus;
	r.programs = (__u32)ctx->nattached;
	memcpy(f + VIGIL_HDR_SIZE, &r, sizeof(r));
	emit(ctx, f, sizeof(f));
	vp_out_flush(ctx);
}

static void emit_prevent(struct vp_ctx *ctx)
{
	int ncpus = ctx->ncpus;
	struct { __u64 blocked, signal_failed; } *vals = calloc((size_t)ncpus, 16);
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_prevent)];
	struct vigil_ctl_prevent p = { 0 };
	__u32 zero = 0;

	if (!vals)
		return;
	if (bpf_map__lookup_elem(ctx->maps.prevent_counters, &zero, sizeof(zero), vals, (size_t)ncpus * 16, 0) == 0) {
		for (int i = 0; i < ncpus; i++) {
			p.blocked += vals[i].blocked;
			p.signal_failed += vals[i].signal_failed;
		}
	}
	free(vals);
	p.entries = ctx->prevent_entries;
	p.map_full = ctx->prevent_map_full;
	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_PREVENT, sizeof(f));
	memcpy(f + VIGIL_HDR_SIZE, &p, sizeof(p));
	emit(ctx, f, sizeof(f));
}

void vp_emit_sync(struct vp_ctx *ctx, __u64 seq)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_sync)];
	struct vigil_ctl_sync s = { .seq = seq };

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_SYNC, sizeof(f));
	memcpy(f + VIGIL_HDR_SIZE, &s, sizeof(s));
	emit(ctx, f, sizeof(f));
	vp_out_flush(ctx);
}

void vp_emit_stats(struct vp_ctx *ctx)
{
	int ncpus = ctx->ncpus;
	struct { __u64 drops, events, filtered; } *vals = calloc((size_t)ncpus, 24);
	/* header, fixed part, per-CPU drops, then (appended) the events dropped by kernel filters */
	size_t fsize = VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_stats) + (size_t)ncpus * 8 + 8;
	unsigned char *f = calloc(1, fsize);
	struct vigil_ctl_stats st = { 0 };
	__u64 filtered = 0;
	__u32 zero = 0;

	if (!vals || !f)
		goto cleanup;
	if (bpf_map__lookup_elem(ctx->maps.counters, &zero, sizeof(zero), vals, (size_t)ncpus * 24, 0) != 0)
		goto cleanup;
	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_STATS, (__u32)fsize);
	st.realtime_ns = vp_clock_ns(CLOCK_REALTIME);
	st.boottime_ns = vp_clock_ns(CLOCK_BOOTTIME);
	st.ncpus = (__u32)ncpus;
	st.programs = (__u32)ctx->nattached;
	for (int i = 0; i < ncpus; i++) {
		st.drops += vals[i].drops;
		st.events += vals[i].events;
		memcpy(f + VIGIL_HDR_SIZE + sizeof(st) + (size_t)i * 8, &vals[i].drops, 8);
		filtered += vals[i].filtered;
	}
	memcpy(f + fsize - 8, &filtered, 8);
	/* counts this frame and the prevent frame that follows it */
	st.frames_out = ctx->out.frames + 2;
	memcpy(f + VIGIL_HDR_SIZE, &st, sizeof(st));
	emit(ctx, f, fsize);
	emit_prevent(ctx);
cleanup:
	free(vals);
	free(f);
}
