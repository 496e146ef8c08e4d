/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Vigil wire format: the structs shared by the kernel probe (probe.bpf.c), the loader
 * (loader.h, loader-*.c), the Fargate tracer and — mirrored by offsets — the agent's decoder
 * (agent/decode/layout.ts). See FORMAT.md for the full specification.
 *
 * Rules of evolution: fields are only ever appended; a changed shape gets a new type or a new
 * version. Event type codes, flags per type, hooks and syscall numbers come from
 * event-table.h, generated from rules/event-table.ts (the source of truth).
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include "event-table.h"

#define VIGIL_WIRE_VERSION 1

/* Every frame starts with this header. All integers are little-endian. */
#define VIGIL_HDR_SIZE 88
/* Largest frame the probe emits; the decoder rejects frames above VIGIL_MAX_FRAME. */
#define VIGIL_MAX_EVENT 32768
#define VIGIL_MAX_FRAME 65536

/* Header flags. */
#define VIGIL_F_TRUNCATED 0x01 /* some params were dropped because the frame was full */
#define VIGIL_F_CHILD 0x02 /* clone-family event seen from the new child */
#define VIGIL_F_BLOCKED 0x04 /* exec frame: prevention killed the new program before it ran */

/* Values of the probe's `enabled` map (per event type). */
#define VIGIL_ON 1
#define VIGIL_ON_CHILD 2 /* clone family: only the new task's side (what the agent's state needs) */
#define VIGIL_ON_OK 3 /* only successful calls (result >= 0): no rule of the type looks at a failure */
#define VIGIL_ON_FAIL 4 /* only failed calls (result < 0): every rule of the type wants a failure */
#define VIGIL_ON_SOCK 5 /* write, writev: only calls whose fd (argument 0) is a socket: every rule of the type needs one */
#define VIGIL_ON_SOCKJSON 6 /* write, writev: on a socket and the data starts with '{' (JSON): every rule needs both */

/*
 * Prevention policy bits (value of the probe's `prevent` map, keyed by cgroup v2 id): which drift
 * kinds are killed at exec in that cgroup (and the cgroups below it). FORMAT.md "Prevention".
 */
#define VIGIL_PREVENT_UPPER 0x01 /* exe in an overlayfs upper layer (not from the image) */
#define VIGIL_PREVENT_MEMFD 0x02 /* exe is a memfd (fileless); runc's own memfd clone excepted */
#define VIGIL_PREVENT_TMPFS 0x04 /* exe on a tmpfs (/dev/shm, a tmpfs /tmp, /run) */
#define VIGIL_PREVENT_ALL 0x07

/* Control frames from the loader (never from the kernel); event codes are in event-table.h. */
enum vigil_ctl_type {
	VIGIL_CTL_READY = 0x8001,
	VIGIL_CTL_STATS = 0x8002,
	VIGIL_CTL_PREVENT = 0x8003,
	VIGIL_CTL_SYNC = 0x8004,
};

/*
 * Fixed frame header (88 bytes). `size` counts the whole frame, header included. Process facts
 * ride on every frame so a process never seen before can still be described.
 */
struct vigil_hdr {
	__u32 size; /* 0 */
	__u16 type; /* 4: enum vigil_event_type or vigil_ctl_type */
	__u8 version; /* 6: VIGIL_WIRE_VERSION */
	__u8 flags; /* 7: VIGIL_F_* */
	__u64 ts; /* 8: CLOCK_BOOTTIME ns */
	__u32 pid; /* 16: tgid */
	__u32 tid; /* 20 */
	__u32 ppid; /* 24: real parent's tgid */
	__u32 uid; /* 28 */
	__u32 gid; /* 32 */
	__u32 euid; /* 36 */
	__u32 loginuid; /* 40: 0xffffffff when unset */
	__u16 cpu; /* 44 */
	__u16 nparams; /* 46: params that follow the header */
	__u64 cgroup_id; /* 48: cgroup v2 id (inode of the cgroup directory) */
	__u64 start_ts; /* 56: CLOCK_BOOTTIME ns at which the process (thread group leader) started */
	char comm[16]; /* 64 */
	__s64 res; /* 80: syscall return value (0 for events without one) */
};

/*
 * After the header come `nparams` params, each `__u16 len` then `len` bytes. len 0 = the value
 * is missing. Integers are 4 or 8 bytes; strings carry their NUL; see FORMAT.md for the kinds.
 */

/* Socket address and tuple params: a family byte then the address (FORMAT.md). */
#define VIGIL_AF_UNIX 1
#define VIGIL_AF_INET 2
#define VIGIL_AF_INET6 10

/* fd-info extension param: the first byte is one of these, then the name or tuple. */
enum vigil_fd_kind {
	VIGIL_FD_UNKNOWN = 0,
	VIGIL_FD_FILE = 1,
	VIGIL_FD_DIR = 2,
	VIGIL_FD_IPV4 = 3,
	VIGIL_FD_IPV6 = 4,
	VIGIL_FD_UNIX = 5,
	VIGIL_FD_PIPE = 6,
	VIGIL_FD_MEMFD = 7,
	VIGIL_FD_SOCK_OTHER = 8,
	VIGIL_FD_ANON = 9, /* eventfd, signalfd, bpf, ... (name tells which) */
	VIGIL_FD_CHAR = 10,
	VIGIL_FD_BLOCK = 11,
};

/* Control frame payloads (after the header, no params: nparams = 0). */
struct vigil_ctl_ready {
	__u64 realtime_ns; /* 88: CLOCK_REALTIME at the same instant as boottime_ns */
	__u64 boottime_ns; /* 96 */
	__u32 ncpus; /* 104 */
	__u32 programs; /* 108: tracepoints attached */
};

struct vigil_ctl_stats {
	__u64 realtime_ns; /* 88 */
	__u64 boottime_ns; /* 96 */
	__u64 drops; /* 104: ring-buffer reservation failures, all CPUs, since start */
	__u64 events; /* 112: events submitted, all CPUs, since start */
	__u64 frames_out; /* 120: frames written to stdout by the loader */
	__u32 ncpus; /* 128 */
	__u32 programs; /* 132 */
	/* 136: ncpus x __u64 per-CPU drop counters */
};

/* Sent with every stats frame: prevention counters since start. */
struct vigil_ctl_prevent {
	__u64 blocked; /* 88: programs killed at exec, all CPUs */
	__u64 signal_failed; /* 96: a kill was due but bpf_send_signal failed (the program ran) */
	__u32 entries; /* 104: cgroups armed now */
	__u32 map_full; /* 108: arm requests refused because the map was full (failed open) */
};

/* Answer to the control line "sync N": every control line before it has been applied. */
struct vigil_ctl_sync {
	__u64 seq; /* 88: N */
};

/*
 * Kernel filters pushed down from the rules (not wire format: shared by the probe and the loader).
 * Per open-family event type, an event is sent when it passes one clause (FORMAT.md "Kernel
 * filters"); `on == 0` sends every event. Name sets live in a hash map keyed by (type, dim, name)
 * whose value has bit i set when clause i accepts that name.
 */
#define VIGIL_FILTER_CLAUSES 8
#define VIGIL_FNAME_MAX 60 /* name bytes in a key, NUL included: names up to 59 bytes */

enum vigil_filter_res { VIGIL_RES_ANY = 0, VIGIL_RES_OK = 1, VIGIL_RES_FAIL = 2 };

enum vigil_filter_need {
	VIGIL_NEED_DOTDOT = 1, /* the path argument contains "../" */
	VIGIL_NEED_LEAF = 2, /* the file's last path component is in the clause's leaf set */
	VIGIL_NEED_PARENT = 4, /* its directory's last component is in the clause's parent set */
	VIGIL_NEED_RAW = 8, /* the path argument is in the clause's raw set */
	VIGIL_NEED_RAWTOP = 16, /* the path argument is "/<name>/..." with name in the rawtop set */
};
#define VIGIL_NEED_KINDS 5

enum vigil_fname_dim { VIGIL_DIM_LEAF = 1, VIGIL_DIM_PARENT = 2, VIGIL_DIM_RAW = 3, VIGIL_DIM_RAWTOP = 4 };

struct vigil_fclause {
	__u32 flags_all; /* open flag bits that must all be set */
	__u8 res; /* enum vigil_filter_res */
	__u8 acc; /* bit m: access mode m (flags & 3) allowed */
	__u8 need; /* enum vigil_filter_need bits */
	__u8 pad;
};

struct vigil_filter {
	__u32 on;
	__u32 n; /* clauses in use */
	struct vigil_fclause c[VIGIL_FILTER_CLAUSES];
	/* bit masks over the clauses, derived from c[] by the loader (vigil_filter_masks) */
	__u8 res_mask[2]; /* [0] clauses a successful call can pass, [1] a failed one */
	__u8 acc_mask[4]; /* [m] clauses allowing access mode m */
	__u8 free_mask; /* clauses needing no name check */
	__u8 pad;
	__u8 need_mask[8]; /* [k] clauses with need bit 1 << k */
};

/* Fills the masks of `f` from its clauses. */
static inline void vigil_filter_masks(struct vigil_filter *f)
{
	for (int k = 0; k < 8; k++) {
		f->acc_mask[k & 3] = 0;
		f->need_mask[k] = 0;
	}
	f->res_mask[0] = f->res_mask[1] = 0;
	f->free_mask = 0;
	for (__u32 i = 0; i < f->n && i < VIGIL_FILTER_CLAUSES; i++) {
		const struct vigil_fclause *c = &f->c[i];
		__u8 bit = (__u8)(1U << i);

		if (c->res != VIGIL_RES_FAIL)
			f->res_mask[0] |= bit;
		if (c->res != VIGIL_RES_OK)
			f->res_mask[1] |= bit;
		for (int m = 0; m < 4; m++)
			if (c->acc & (1U << m))
				f->acc_mask[m] |= bit;
		for (int k = 0; k < VIGIL_NEED_KINDS; k++)
			if (c->need & (1U << k))
				f->need_mask[k] |= bit;
		if (!c->need)
			f->free_mask |= bit;
	}
}

/*
 * Per (event type, name dimension): the lengths and first bytes of the names in its sets, so a
 * name outside them is known absent without hashing a key. Filled by the loader with the names
 * (key VIGIL_FNAME_HINT_KEY), emptied by "filter-begin".
 */
struct vigil_fname_hint {
	__u64 len_mask; /* bit n: a name of n bytes (NUL excluded; n < VIGIL_FNAME_MAX) */
	__u64 first[4]; /* bit b of the 256: a name starting with byte b */
	__u8 len_clauses[64]; /* [n]: the clause bits of the names of n bytes (a clause already dead skips the key) */
};
#define VIGIL_FNAME_HINT_KEY(type, dim) ((__u32)(type) * 8 + (__u32)(dim))

struct vigil_fname_key {
	__u16 type; /* enum vigil_event_type */
	__u8 dim; /* enum vigil_fname_dim */
	__u8 pad;
	char name[VIGIL_FNAME_MAX]; /* NUL-padded */
};

#endif /* VIGIL_EVENTS_H */
