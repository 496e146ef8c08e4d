// SPDX-License-Identifier: Apache-2.0
/*
 * The ring-buffer reader and the output: each record the probe submitted is copied, cut to its
 * header's size, into a 1 MiB batch written to stdout when full and once per loop tick; the
 * loader's own control frames (ready, stats, prevent, sync; FORMAT.md) go through the same batch.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
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

/*
 * The reader is our own rather than libbpf's ring_buffer: libbpf maps the data area twice,
 * back to back, so a record that wraps past the end reads as one piece, and every page the
 * producer has touched then counts twice in the loader's resident set (16 MiB for the 8 MiB
 * default, though the kernel holds the pages once). Here the data area is mapped once and the
 * one record in a lap that wraps is copied in two pieces; the output batch copies every record
 * anyway, so nothing is added on the way. The protocol is the kernel's (kernel/bpf/ringbuf.c,
 * uapi bpf.h): page 0 the consumer position (ours to write), page 1 the producer position,
 * then the data; each record is an 8-byte header (length, BUSY while the producer writes it,
 * DISCARD when it was dropped) and its sample, rounded up to 8 bytes.
 */

static void on_record(struct vp_ctx *ctx, const unsigned char *data, __u64 off, size_t size)
{
	const struct vp_ring *r = &ctx->ring;
	struct vp_out *o = &ctx->out;
	const struct vigil_hdr *h;
	size_t first;

	if (size > VP_OUT_CAP)
		return;
	if (o->len + size > VP_OUT_CAP)
		vp_out_flush(ctx);
	/* copy first, then read the header from the copy: a wrapping record's header may wrap too */
	first = off + size <= r->size ? size : (size_t)(r->size - off);
	memcpy(o->buf + o->len, data + off, first);
	memcpy(o->buf + o->len + first, data, size - first);
	h = (const struct vigil_hdr *)(o->buf + o->len);
	/* the header's size is authoritative: the record may carry ring-buffer padding */
	if (size >= sizeof(*h) && h->size >= sizeof(*h) && h->size <= size)
		size = h->size;
	o->len += size;
	o->frames++;
}

int vp_rb_open(struct vp_ctx *ctx)
{
	struct vp_ring *r = &ctx->ring;
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int fd = bpf_map__fd(ctx->maps.events);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return -errno;
	/* the kernel makes the size a power of two and a page multiple; check, the mask relies on it */
	if (page <= 0 || info.max_entries == 0 || (info.max_entries & (info.max_entries - 1)) != 0 ||
	    info.max_entries % (__u32)page != 0)
		return -EINVAL;
	r->size = info.max_entries;
	r->page = (size_t)page;
	p = mmap(NULL, r->page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->consumer = p;
	/* the producer page and the data once (libbpf maps page + 2 * size) */
	p = mmap(NULL, r->page + r->size, PROT_READ, MAP_SHARED, fd, (off_t)r->page);
	if (p == MAP_FAILED) {
		int err = -errno;

		munmap(r->consumer, r->page);
		r->consumer = NULL;
		return err;
	}
	r->producer = p;
	r->data = (const unsigned char *)p + r->page;
	return 0;
}

int vp_rb_consume(struct vp_ctx *ctx)
{
	struct vp_ring *r = &ctx->ring;
	__u64 mask = r->size - 1, cons, prod;
	int n = 0;
	bool more = true;

	if (!r->consumer)
		return 0;
	cons = __atomic_load_n(r->consumer, __ATOMIC_ACQUIRE);
	while (more) {
		more = false;
		prod = __atomic_load_n(r->producer, __ATOMIC_ACQUIRE);
		while (cons < prod) {
			/* headers are 8-byte aligned and the size is a multiple of 8: a header never wraps */
			const __u32 *hdr = (const __u32 *)(r->data + (cons & mask));
			__u32 len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
			__u32 size;

			if (len & BPF_RINGBUF_BUSY_BIT)
				return n; /* still being written: the next tick takes it */
			size = len & ~BPF_RINGBUF_DISCARD_BIT;
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				on_record(ctx, r->data, (cons + BPF_RINGBUF_HDR_SZ) & mask, size);
				if (n < INT_MAX)
					n++;
			}
			cons += ((__u64)size + BPF_RINGBUF_HDR_SZ + 7) & ~7ULL;
			/* the record is copied out: give its space back to the producer */
			__atomic_store_n(r->consumer, cons, __ATOMIC_RELEASE);
			more = true;
		}
	}
	return n;
}

/* the ring's own map fd: poll() on it reports data already pending (level-triggered) */
int vp_rb_fd(struct vp_ctx *ctx)
{
	return bpf_map__fd(ctx->maps.events);
}

void vp_rb_close(struct vp_ctx *ctx)
{
	struct vp_ring *r = &ctx->ring;

	if (r->producer)
		munmap((void *)r->producer, r->page + r->size);
	if (r->consumer)
		munmap(r->consumer, r->page);
	memset(r, 0, sizeof(*r));
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
