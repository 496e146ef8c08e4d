/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vigil-probe's loader, split by responsibility around one context (struct vp_ctx) that main
 * owns and passes to every function:
 *
 *   loader-probe.c    maps and programs: the syscall table, tracefs, open/tune/load of the
 *                     skeleton, attach and retune of the tracepoints, teardown;
 *   loader-control.c  the control channel: lines from stdin (--control-stdin) applied in order
 *                     to the exclusion, prevention and kernel-filter maps;
 *   loader-output.c   the ring-buffer reader and the output: records and control frames
 *                     (events.h, FORMAT.md) written to stdout in batches;
 *   loader.c          the command line and the main loop.
 *
 * Only loader-probe.c includes the bpftool skeleton; the others reach the maps through the
 * handles in struct vp_maps. Functions returning int return 0 on success and -errno on error
 * (libpman's convention); the ones that print say so.
 */
#ifndef VIGIL_LOADER_H
#define VIGIL_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>
#include "events.h"

struct probe;
struct bpf_map;
struct bpf_link;

/* ---------------------------------------------------------------- options */

/** struct vp_opts - the command line (loader.c). */
struct vp_opts {
	char *syscalls;
	char *raw_syscalls; /* --raw-syscalls: observed through the raw_syscalls fallback even with a tracepoint */
	__u32 exclude[64];
	int nexclude;
	int ringbuf_mb;
	int wakeup_kb;
	int poll_ms;
	int stats_ms;
	int prevent_max;
	bool env;
	bool control_stdin;
	bool verbose;
};

/* ---------------------------------------------------------------- context */

/* Hooks in the syscall table (loader-probe.c); checked there against the table's size. */
#define VP_MAX_SYSCALLS 512
/* Output batch: records are copied here and written to stdout when full or once per tick. */
#define VP_OUT_CAP (1 << 20)
/* Longest control line; a longer one is dropped. */
#define VP_CTL_CAP 65536
/* The filter_names map's max_entries (probe.bpf.c): the most names one filter-begin deletes. */
#define VP_FNAME_ENTRIES 8192

/** struct vp_maps - the skeleton's maps, for the parts that do not include it. */
struct vp_maps {
	struct bpf_map *events; /* the ring buffer */
	struct bpf_map *enabled;
	struct bpf_map *excluded;
	struct bpf_map *counters; /* per CPU: drops, events, filtered */
	struct bpf_map *prevent;
	struct bpf_map *prevent_counters; /* per CPU: blocked, signal_failed */
	struct bpf_map *filters;
	struct bpf_map *filter_names;
	struct bpf_map *fname_hints;
};

/** struct vp_out - the batch of frames waiting for stdout. */
struct vp_out {
	unsigned char buf[VP_OUT_CAP];
	size_t len;
	__u64 frames; /* frames emitted since start */
	bool closed; /* stdout went away (EPIPE): stop */
};

/** struct vp_ring - the events ring, its data area mapped once (loader-output.c). */
struct vp_ring {
	unsigned long *consumer; /* the consumer position page (read-write) */
	const unsigned long *producer; /* the producer position page, the data right after it */
	const unsigned char *data;
	__u64 size; /* data bytes: a power of two */
	size_t page;
};

/** struct vp_ctx - everything the loader holds while it runs. */
struct vp_ctx {
	const struct vp_opts *opts;
	int ncpus;
	/* maps and programs */
	struct probe *skel;
	struct vp_maps maps;
	const char *tracefs_root;
	bool available[VP_MAX_SYSCALLS]; /* hook exists on this kernel */
	struct bpf_link *links[VP_MAX_SYSCALLS];
	int nattached;
	/* the raw_syscalls fallback (probe/raw-fallback.h) */
	int nr[VP_MAX_SYSCALLS]; /* syscall number on this architecture, -1: none or past the program array */
	bool force_raw[VP_MAX_SYSCALLS]; /* --raw-syscalls */
	bool stub[VP_MAX_SYSCALLS]; /* no tracepoint and the kernel only has the ENOSYS stub (COND_SYSCALL) */
	bool in_raw[VP_MAX_SYSCALLS]; /* its raw_progs slot is filled */
	bool raw_ok; /* raw_syscalls/sys_exit exists and its program is loaded */
	struct bpf_link *raw_link; /* attached while some wanted call is served by the fallback */
	/* prevention map bookkeeping (reported in VIGIL_CTL_PREVENT) */
	__u32 prevent_entries;
	__u32 prevent_map_full;
	/* the ring-buffer reader (loader-output.c) and its output */
	struct vp_ring ring;
	struct vp_out out;
	/* the control channel */
	char ctl_line[VP_CTL_CAP];
	size_t ctl_len;
	struct vigil_fname_key fname_scratch[VP_FNAME_ENTRIES]; /* names a filter-begin deletes */
};

/* Prints one line "vigil-probe: ..." on stderr. */
void vp_die_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------- maps and programs (loader-probe.c) */

/*
 * vp_log_init() - route libbpf's messages: warnings are kept for the load error line; with
 * `verbose` everything goes to stderr too.
 */
void vp_log_init(bool verbose);

/*
 * vp_probe_load() - check BTF and tracefs, open the skeleton, set the tunables and map sizes
 * from the options, skip the programs whose hook this kernel lacks, load. Fills ctx->skel and
 * ctx->maps. Returns 0 or -errno, with one line printed on stderr.
 */
int vp_probe_load(struct vp_ctx *ctx);

/*
 * vp_set_syscalls() - make the attached set equal to the comma-separated `list` (a clone-family
 * name may carry ":child"): enable the map entries and attach the wanted tracepoints, detach the
 * others. A wanted call without a tracepoint here (or named by --raw-syscalls) is served by the
 * raw_syscalls fallback: its program goes into the raw_progs slot of its number and the fallback
 * program is attached while any slot is filled. Unknown names are warned about on stderr and
 * ignored. Prints one line "vigil-probe: syscalls observed: N by tracepoint, M by raw_syscalls
 * (names), K missing (names)" on stderr (FORMAT.md). Returns 0 or -errno when an attach fails
 * (printed).
 */
int vp_set_syscalls(struct vp_ctx *ctx, const char *list);

/* vp_syscall_code() - the event code of a Falco event name in the table; -1 when unknown. */
int vp_syscall_code(const char *name);

/* vp_syscall_flags() - the VIGIL_EVF_* flags of a Falco event name; 0 when unknown. */
int vp_syscall_flags(const char *name);

/* vp_probe_destroy() - detach every hook and free the skeleton (safe on a partial load). */
void vp_probe_destroy(struct vp_ctx *ctx);

/* ---------------------------------------------------------------- control channel (loader-control.c) */

/* vp_exclude_pid() - never report (nor kill) the tgid `pid`. Returns 0 or -errno. */
int vp_exclude_pid(struct vp_ctx *ctx, __u32 pid);

/*
 * vp_control_read() - read what stdin has and apply every complete line, in order. Returns false
 * on EOF (the agent went away), true otherwise.
 */
bool vp_control_read(struct vp_ctx *ctx);

/* ---------------------------------------------------------------- ring-buffer reader and output (loader-output.c) */

/* vp_rb_open() - the ring-buffer reader, copying each record to the output batch. Returns 0 or -errno. */
int vp_rb_open(struct vp_ctx *ctx);

/* vp_rb_consume() - copy every pending record to the output batch. Returns the count or -errno. */
int vp_rb_consume(struct vp_ctx *ctx);

/* vp_rb_fd() - the descriptor to poll for records. */
int vp_rb_fd(struct vp_ctx *ctx);

/* vp_rb_close() - free the reader (safe when it was never opened). */
void vp_rb_close(struct vp_ctx *ctx);

/* vp_out_flush() - write the batch to stdout; a write error marks the output closed. */
void vp_out_flush(struct vp_ctx *ctx);

/* vp_emit_ready() - the VIGIL_CTL_READY frame (clocks, CPUs, hooks attached), flushed. */
void vp_emit_ready(struct vp_ctx *ctx);

/* vp_emit_stats() - a VIGIL_CTL_STATS frame (per-CPU drops, filtered) and a VIGIL_CTL_PREVENT frame. */
void vp_emit_stats(struct vp_ctx *ctx);

/* vp_emit_sync() - the VIGIL_CTL_SYNC frame answering "sync `seq`", flushed. */
void vp_emit_sync(struct vp_ctx *ctx, __u64 seq);

/* vp_clock_ns() - a clock in ns. */
__u64 vp_clock_ns(clockid_t clock);

#endif /* VIGIL_LOADER_H */
