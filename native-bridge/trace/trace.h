/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vigil-trace: runs a workload under ptrace + seccomp (SECCOMP_RET_TRACE only for the syscalls
 * the rules need) and sends the same frames as vigil-probe (../events.h, ../FORMAT.md) to the
 * agent over a unix socket.
 *
 * ==== Sections ====
 * syscall table (syscalls.c) → per-thread state and the ptrace loop (tracer.c) → frame building
 * (frame.c) → /proc readers (procinfo.c) → output with bounded buffering (out.c) → main (main.c).
 */
#ifndef VIGIL_TRACE_H
#define VIGIL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <linux/types.h>
#include "events.h"

/* ---------------------------------------------------------------- syscall table */

/*
 * How a syscall's params are written, one op per character, each optionally followed by the
 * argument index (0-5):
 *   dN  (s64)(int)arg N        uN  (u32)arg N          qN  (u64)arg N        sN  user string at arg N
 *   aN  sockaddr at arg N, length arg N+1              fN  fd info of the fd in arg N
 *   I   dev + ino of the fd returned                   F   fd info of the fd returned
 *   H   openat2's open_how (flags, mode, resolve)      C   capabilities (inh, perm, eff)
 *   P   the process block (FORMAT.md)                  -   a missing value
 *   bN  up to 128 user bytes at arg N, length = return value
 *   tN  socket tuple of the fd in arg N               T   socket tuple of the fd returned
 *   cN  connect's tuple (fd arg N, sockaddr arg N+1, length N+2)   gN  connect's fd info, same args
 */
struct trace_sc {
	const char *name; /* Falco event name */
	__u16 code; /* enum vigil_event_type */
	int nr; /* syscall number on this architecture */
	const char *spec;
};

extern const struct trace_sc trace_syscalls[];
extern const size_t trace_nsyscalls;
const struct trace_sc *sc_by_name(const char *name);
const struct trace_sc *sc_by_nr(int nr);
const struct trace_sc *sc_by_code(__u16 code);

/* 32-bit (i386) syscalls on x86_64, by their own numbers; code 0 = socketcall (unpacked). */
#define COMPAT_SOCKETCALL 102
struct compat_sc {
	int nr;
	__u16 code;
};
extern const struct compat_sc trace_compat[];
extern const size_t trace_ncompat;

/* ---------------------------------------------------------------- /proc facts */

/* Process facts for the frame header, cached per thread and refreshed after exec/set*id. */
struct procfacts {
	bool valid;
	__u32 tgid, ppid, uid, gid, euid, fsuid, fsgid, loginuid;
	__u64 cgroup_id;
	__u64 start_ts; /* CLOCK_BOOTTIME ns of the thread group leader's start */
	char comm[16];
};

int proc_facts(pid_t pid, pid_t tid, struct procfacts *f);
/* Reads a whole small /proc file; returns bytes read (<= cap) or -1. */
ssize_t proc_read(pid_t pid, const char *what, char *buf, size_t cap);
/* readlink /proc/<pid>/<what>; NUL-terminated, " (deleted)" stripped; returns length or -1. */
ssize_t proc_link(pid_t pid, const char *what, char *buf, size_t cap);
/* A NUL-terminated string from the tracee's memory (process_vm_readv, page by page). */
ssize_t mem_str(pid_t pid, __u64 addr, char *buf, size_t cap);
ssize_t mem_read(pid_t pid, __u64 addr, void *buf, size_t len);
__u64 boottime_ns(void);
/*
 * Which overlayfs layer a file is in, as the probe reports it: 1 upper, 0 lower, -1 not on
 * overlayfs. The tracer cannot see the layers; it uses the fact that the upper layer starts
 * empty when the container starts (the tracer is its entrypoint): a file whose ctime is not
 * older than the tracer's start was written (or copied up) since, so it is in the upper layer.
 */
int overlay_layer(const char *path, const struct stat *sb);
extern __u64 trace_start_realtime_ns;
__u64 realtime_ns(void);

/* ---------------------------------------------------------------- frames */

struct frame {
	unsigned char buf[VIGIL_MAX_EVENT];
	__u32 off;
	__u16 n;
	__u8 flags;
};

void frame_begin(struct frame *fr, __u16 type, pid_t pid, pid_t tid, const struct procfacts *pf, __s64 res);
void frame_end(struct frame *fr);
void put_none(struct frame *fr);
void put_u32(struct frame *fr, __u32 v);
void put_u64(struct frame *fr, __u64 v);
void put_bytes(struct frame *fr, const void *p, size_t len);
void put_ustr(struct frame *fr, pid_t pid, __u64 addr);
void put_ubytes(struct frame *fr, pid_t pid, __u64 addr, __u64 len, size_t max);
void put_fdinfo(struct frame *fr, pid_t pid, long fd);
void put_dev_ino(struct frame *fr, pid_t pid, long fd);
void put_sockaddr(struct frame *fr, pid_t pid, __u64 addr, __u64 len);
void put_caps(struct frame *fr, pid_t tid);
/* Socket tuple of an fd, and the fd-info form of it (sockinfo.c). */
void put_tuple(struct frame *fr, pid_t pid, long fd);
void put_sock_fdinfo(struct frame *fr, pid_t pid, long fd);
/* The same, for connect: an unconnected socket's remote is the requested sockaddr (port 0). */
void put_tuple_sa(struct frame *fr, pid_t pid, long fd, __u64 sa_addr, __u64 sa_len, __s64 ret);
void put_sock_fdinfo_sa(struct frame *fr, pid_t pid, long fd, __u64 sa_addr, __u64 sa_len, __s64 ret);
void put_proc_block(struct frame *fr, pid_t pid, pid_t tid);
/* Writes params by a spec string (see struct trace_sc). */
void put_spec(struct frame *fr, const char *spec, pid_t pid, pid_t tid, const __u64 args[6], __s64 ret);

/* ---------------------------------------------------------------- output */

struct out_stats {
	__u64 frames; /* frames produced */
	__u64 sent; /* frames written to the socket */
	__u64 dropped; /* frames dropped because the buffer was full */
	__u64 connects;
};

void out_init(const char *path, size_t cap, bool verbose);
/* Queues one frame (drops and counts when the buffer is full); tries to send. */
void out_frame(const void *data, size_t size);
/* Reconnects if needed and sends what is buffered; never blocks for long. */
void out_pump(void);
/* Last chance to deliver before exit (bounded wait). */
void out_flush_final(int timeout_ms);
const struct out_stats *out_get_stats(void);
void out_set_programs(__u32 n);

/* ---------------------------------------------------------------- tracer */

struct trace_opts {
	bool want[VIGIL_EV_MAX];
	bool verbose;
};

/* Runs argv under the tracer; returns the exit status for the tracer (code, or 128+signal). */
int trace_run(char **argv, const struct trace_opts *o);
void trace_forward_signal(int sig);

#endif /* VIGIL_TRACE_H */
