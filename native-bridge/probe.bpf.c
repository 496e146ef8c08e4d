// SPDX-License-Identifier: Apache-2.0
/*
 * Vigil kernel probe (CO-RE). One program per syscall exit tracepoint
 * (tracepoint/syscalls/sys_exit_<name>), attached only for the syscalls the loaded rules need, so
 * a syscall nobody asked for costs nothing; plus tp_btf/sched_process_exit for process exits.
 *
 * Every program: ev_begin() (filter: enabled map, excluded tgids; header from the current task)
 * → put_*() params into a per-CPU scratch buffer → ev_send() copies the frame into the ring
 * buffer without waking the consumer unless enough data is pending. A failed output is counted
 * per CPU (the loader reports the counters).
 *
 * Syscall arguments are read at exit from the task's saved user registers (pt_regs), so one
 * program per syscall suffices. Wire format: events.h and FORMAT.md.
 *
 * Built for x86_64 (-D__TARGET_ARCH_x86) and arm64 (-D__TARGET_ARCH_arm64) from the same source:
 * the only architecture-specific reads are the syscall arguments (below), and CO-RE relocates every
 * field access to the running kernel's layout, so the arm64 object can be compiled against an x86
 * vmlinux.h (native-bridge/Makefile, cross-arm64).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "events.h"

/* GPL-only helpers (probe_read_*) need a GPL-compatible license string for the BPF object. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SCRATCH_SIZE (2 * VIGIL_MAX_EVENT)
#define OFF_MASK (VIGIL_MAX_EVENT - 1)
#define STR_MAX 4096
#define NAME_MAX_ 256
#define MAX_COMP 32
#define MAX_WALK 48
#define DATA_MAX 80
#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000
#define S_IFREG_ 0100000
#define S_IFBLK_ 0060000
#define S_IFDIR_ 0040000
#define S_IFCHR_ 0020000
#define S_IFIFO_ 0010000
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define CLONE_THREAD_ 0x00010000
#define AT_FDCWD_ -100
#define F_DUPFD_ 0
#define F_DUPFD_CLOEXEC_ 1030
#define PR_SET_NAME_ 15
#define SOCK_RAW_ 3

/* Tunables, set by the loader before load. */
const volatile __u32 wakeup_bytes = 256 * 1024;
const volatile __u8 collect_env = 0;

struct scratch {
	__u8 buf[SCRATCH_SIZE];
	__u64 comps[MAX_COMP];
	/* write cursor of path building: kept in map memory, which the verifier does not track,
	 * so the bpf_loop callback's states converge at once instead of once per byte offset */
	__u32 w;
	/* fd-info prefix (kind | aux << 8) for put_dentry_path; in map memory for the same reason */
	__u32 prefix;
};

struct counters {
	__u64 drops;
	__u64 events;
	__u64 filtered; /* events dropped by a pushed-down filter (open family) or a result filter */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* One scratch buffer per CPU (a plain array: per-CPU values are limited to 32 KiB); the loader
 * sizes it to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* enabled[type] != 0: the event is wanted (the loader also attaches only wanted programs). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_EV_MAX);
	__type(key, __u32);
	__type(value, __u8);
} enabled SEC(".maps");

/* tgids never reported (the loader itself and the agent). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} excluded SEC(".maps");

/*
 * Prevention: cgroup v2 id → VIGIL_PREVENT_* bits, filled by the agent through the loader. An exec
 * in an armed cgroup (or below one) whose new program is drift of an armed kind is killed before
 * its first instruction. The loader sizes the map (--prevent-max); when it is full the agent's
 * request fails and the cgroup stays unarmed (fail open).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} prevent SEC(".maps");

struct prevent_counters {
	__u64 blocked;
	__u64 signal_failed;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prevent_counters);
} prevent_counters SEC(".maps");

/* Pushed-down rule predicates per open-family event type (events.h, FORMAT.md "Kernel filters"). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_EV_MAX);
	__type(key, __u32);
	__type(value, struct vigil_filter);
} filters SEC(".maps");

/* (type, dim, name) → bit i set when clause i of that type's filter accepts the name. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct vigil_fname_key);
	__type(value, __u32);
} filter_names SEC(".maps");

/* VIGIL_FNAME_HINT_KEY(type, dim) → lengths and first bytes of that set's names. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_EV_MAX * 8);
	__type(key, __u32);
	__type(value, struct vigil_fname_hint);
} fname_hints SEC(".maps");

/*
 * Syscall arguments: libbpf's PT_REGS_PARMn_CORE_SYSCALL read them from the task's saved user
 * registers the way each syscall ABI passes them: x86_64 di, si, dx, r10, r8, r9; arm64 x0-x5, where
 * argument 0 comes from orig_x0 because x0 holds the return value by the time of the exit tracepoint.
 * 32-bit (ia32, AArch32) syscalls never reach these programs: the kernel does not fire the per-syscall
 * tracepoints for compat tasks on either architecture (ARCH_TRACE_IGNORE_COMPAT_SYSCALLS).
 */
#if !defined(__TARGET_ARCH_x86) && !defined(__TARGET_ARCH_arm64)
#error "build the probe with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif
#if defined(__TARGET_ARCH_arm64) && defined(VIGIL_VMLINUX_FOREIGN)
/* vmlinux.h from another architecture's kernel (the cross build) lacks arm64's register block;
 * the relocations bind it to the running kernel's struct user_pt_regs */
struct user_pt_regs {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
} __attribute__((preserve_access_index));
#endif
/* libbpf 1.1 (Debian 12) stops at PARM5; 1.2 added the sixth with these same registers */
#ifndef PT_REGS_PARM6_CORE_SYSCALL
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ(__PT_REGS_CAST(x), r9)
#else
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ(__PT_REGS_CAST(x), regs[5])
#endif
#endif

/* Layout of a per-syscall exit tracepoint record (tracefs events/syscalls/sys_exit_NAME/format). */
struct sys_exit_args {
	__u64 common;
	int nr;
	int pad;
	long ret;
};

/* kernfs_node.parent was renamed __parent in 6.15. */
struct kernfs_node___new {
	struct kernfs_node *__parent;
} __attribute__((preserve_access_index));
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct ev {
	__u8 *buf;
	__u64 *comps;
	__u32 *wp;
	struct task_struct *task;
	struct pt_regs *regs;
	__u32 off;
	__u16 n;
	__u8 flags;
};

/* ---------------------------------------------------------------- frame building */
#include "probe/frame.h"

/* ---------------------------------------------------------------- task facts */
#include "probe/task.h"

/* ---------------------------------------------------------------- pushed-down filters */
#include "probe/filter.h"

/* ---------------------------------------------------------------- begin / send */

/*
 * Socket filter (FORMAT.md "Socket filters"): whether argument 0 of the current call (write,
 * writev: the fd) names a socket (S_IFSOCK inode) of the current task; read before anything else
 * of the call so that file and pipe writes cost a lookup, not a frame.
 */
static __noinline int arg0_is_sock(struct task_struct *t)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);
	long fd = (int)PT_REGS_PARM1_CORE_SYSCALL(r);
	struct fdtable *fdt;
	struct file *f = NULL;

	if (fd < 0)
		return 0;
	/* direct loads through the task's BTF pointers (as ev_begin's): cheaper than probe-read calls */
	fdt = t->files->fdt;
	if ((__u64)fd >= fdt->max_fds)
		return 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd & 0xfffff]);
	return f && (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) == S_IFSOCK_;
}

/*
 * JSON filter (FORMAT.md "Socket filters", `:sockjson`): whether the data of the current write
 * (argument 1; writev: the first iovec's buffer) starts with '{', as every JSON-RPC message
 * (Stratum) does. Reads one byte of the caller's memory (two for writev) before the frame.
 */
static __noinline int data_starts_json(struct task_struct *t, __u32 type)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);
	__u64 p = PT_REGS_PARM2_CORE_SYSCALL(r);
	char c = 0;

	if (PT_REGS_PARM3_CORE_SYSCALL(r) == 0 || !p)
		return 0;
	if (type == VIGIL_EV_WRITEV) {
		struct {
			__u64 base;
			__u64 len;
		} iov = { 0 };

		if (bpf_probe_read_user(&iov, sizeof(iov), (void *)p) || !iov.len || !iov.base)
			return 0;
		p = iov.base;
	}
	if (bpf_probe_read_user(&c, 1, (void *)p))
		return 0;
	return c == '{';
}

static __always_inline int ev_begin(struct ev *e, __u32 type, long res)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, cpu;
	struct vigil_hdr *h;
	struct scratch *s;
	__u8 *on;
	const struct cred *c;

	on = bpf_map_lookup_elem(&enabled, &type);
	if (!on || !*on)
		return 0;
	/* clone family wanted for the state only: the new task's side (result 0) is enough */
	if (*on == VIGIL_ON_CHILD && res != 0)
		return 0;
	/* result filter (FORMAT.md "Result filters"): dropped before the frame is built, counted */
	if ((*on == VIGIL_ON_OK && res < 0) || (*on == VIGIL_ON_FAIL && res >= 0) || (*on == VIGIL_ON_SOCK && !arg0_is_sock(t)) ||
	    (*on == VIGIL_ON_SOCKJSON && !(arg0_is_sock(t) && data_starts_json(t, type)))) {
		__u32 zero = 0;
		struct counters *cnt = bpf_map_lookup_elem(&counters, &zero);

		if (cnt)
			cnt->filtered++;
		return 0;
	}
	if (bpf_map_lookup_elem(&excluded, &tgid))
		return 0;
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&scratch_map, &cpu);
	if (!s)
		return 0;
	e->buf = s->buf;
	e->comps = s->comps;
	e->wp = &s->w;
	e->task = t;
	e->regs = (struct pt_regs *)bpf_task_pt_regs(t);
	e->off = VIGIL_HDR_SIZE;
	e->n = 0;
	e->flags = 0;
	h = (struct vigil_hdr *)s->buf;
	/* direct loads through the trusted task pointer: cheaper than probe-read helper calls */
	c = t->cred;
	h->type = type;
	h->version = VIGIL_WIRE_VERSION;
	h->ts = bpf_ktime_get_boot_ns();
	h->pid = tgid;
	h->tid = (__u32)pid_tgid;
	h->ppid = t->real_parent->tgid;
	h->uid = c->uid.val;
	h->gid = c->gid.val;
	h->euid = c->euid.val;
	h->loginuid = t->loginuid.val;
	h->cpu = (__u16)cpu;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->start_ts = t->group_leader->start_boottime;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	h->res = res;
	return 1;
}

static __always_inline int ev_send(struct ev *e)
{
	struct vigil_hdr *h = (struct vigil_hdr *)e->buf;
	struct counters *cnt;
	__u32 zero = 0, size = e->off;
	__u64 flags = 0;
	long err;

	h->size = size;
	h->flags = e->flags;
	h->nparams = e->n;
	/* FORMAT.md "Ring buffer and wake-ups": a record written into an empty ring (the reader has
	 * drained everything, so it sleeps or is about to) wakes it, the kernel's own check at commit
	 * (flags 0); the reader batches a busy stream itself (loader.c). Past wakeup_bytes pending,
	 * always wake. */
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	{
		/* room() keeps off <= VIGIL_MAX_EVENT; the mask only shows the verifier a bound */
		__u64 sz = size;

		asm volatile("%[o] &= 0xffff" : [o] "+r"(sz));
		err = bpf_ringbuf_output(&events, e->buf, sz, flags);
	}
	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (cnt) {
		if (err)
			cnt->drops++;
		else
			cnt->events++;
	}
	return 0;
}

#define EXIT_PROG(name) \
	SEC("tracepoint/syscalls/sys_exit_" #name) int exit_##name(struct sys_exit_args *ctx)

#define BEGIN(type)                       \
	struct ev e;                      \
	long ret = ctx->ret;              \
	if (!ev_begin(&e, type, ret))     \
		return 0;

/* ---------------------------------------------------------------- prevention */
#include "probe/prevent.h"

/* ---------------------------------------------------------------- process life */

EXIT_PROG(execve)
{
	int blocked = prevent_exec(ctx->ret);

	BEGIN(VIGIL_EV_EXECVE);
	if (blocked)
		e.flags |= VIGIL_F_BLOCKED;
	put_proc_block(&e);
	/* filename: the program a failed call tried to run (the block above is the caller's); the
	 * caller's memory is gone after a successful exec */
	if (ret == 0)
		put_none(&e);
	else
		put_ustr(&e, (void *)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(execveat)
{
	int blocked = prevent_exec(ctx->ret);

	BEGIN(VIGIL_EV_EXECVEAT);
	if (blocked)
		e.flags |= VIGIL_F_BLOCKED;
	put_proc_block(&e);
	if (ret == 0) {
		/* the caller's memory is gone after a successful exec */
		put_none(&e);
		put_none(&e);
	} else {
		put_u64(&e, (__s64)(int)arg(&e, 0));
		put_ustr(&e, (void *)arg(&e, 1));
	}
	return ev_send(&e);
}

static __always_inline int clone_common(struct sys_exit_args *ctx, __u32 type, __u64 flags)
{
	BEGIN(type);
	if (ret == 0)
		e.flags |= VIGIL_F_CHILD;
	put_proc_block(&e);
	put_u64(&e, flags);
	return ev_send(&e);
}

EXIT_PROG(clone)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());

	return clone_common(ctx, VIGIL_EV_CLONE, PT_REGS_PARM1_CORE_SYSCALL(r));
}

EXIT_PROG(clone3)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (void *)PT_REGS_PARM1_CORE_SYSCALL(r));
	return clone_common(ctx, VIGIL_EV_CLONE3, flags);
}

EXIT_PROG(fork)
{
	return clone_common(ctx, VIGIL_EV_FORK, 0);
}

EXIT_PROG(vfork)
{
	return clone_common(ctx, VIGIL_EV_VFORK, 0x4000 | 0x100 /* CLONE_VFORK|CLONE_VM */);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *task)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct ev e;
	int code;

	/* one event per process: when the last thread leaves */
	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0;
	if (!ev_begin(&e, VIGIL_EV_PROCEXIT, 0))
		return 0;
	code = BPF_CORE_READ(t, exit_code);
	put_u64(&e, (__s64)code);
	put_u64(&e, (__s64)((code >> 8) & 0xff));
	put_u32(&e, code & 0x7f);
	put_u32(&e, (code & 0x80) ? 1 : 0);
	put_none(&e);
	return ev_send(&e);
}

/* ---------------------------------------------------------------- files */
#include "probe/files.h"

/* ---------------------------------------------------------------- metadata tampering (times, inode flags) */
#include "probe/tamper.h"

/* ---------------------------------------------------------------- identity */

#define PROG_U(name, type)                            \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u32(&e, arg(&e, 0));              \
		return ev_send(&e);                   \
	}
PROG_U(setuid, VIGIL_EV_SETUID)
PROG_U(setgid, VIGIL_EV_SETGID)

#define PROG_UU(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u32(&e, arg(&e, 0));              \
		put_u32(&e, arg(&e, 1));              \
		return ev_send(&e);                   \
	}
PROG_UU(setreuid, VIGIL_EV_SETREUID)
PROG_UU(setregid, VIGIL_EV_SETREGID)

#define PROG_UUU(name, type)                          \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u32(&e, arg(&e, 0));              \
		put_u32(&e, arg(&e, 1));              \
		put_u32(&e, arg(&e, 2));              \
		return ev_send(&e);                   \
	}
PROG_UUU(setresuid, VIGIL_EV_SETRESUID)
PROG_UUU(setresgid, VIGIL_EV_SETRESGID)

EXIT_PROG(capset)
{
	const struct cred *c;

	BEGIN(VIGIL_EV_CAPSET);
	{
		struct task_struct *t = e.task;

		c = BPF_CORE_READ(t, cred);
	}
	put_u64(&e, read_cap(c, 0));
	put_u64(&e, read_cap(c, 1));
	put_u64(&e, read_cap(c, 2));
	return ev_send(&e);
}

/* ---------------------------------------------------------------- network */

EXIT_PROG(socket)
{
	BEGIN(VIGIL_EV_SOCKET);
	put_u32(&e, arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(connect)
{
	int fd;

	BEGIN(VIGIL_EV_CONNECT);
	fd = (int)arg(&e, 0);
	put_tuple(&e, fd);
	put_u64(&e, (__s64)fd);
	put_sockaddr(&e, (void *)arg(&e, 1), arg(&e, 2));
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

EXIT_PROG(accept)
{
	BEGIN(VIGIL_EV_ACCEPT);
	put_tuple(&e, ret);
	put_none(&e);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(accept4)
{
	BEGIN(VIGIL_EV_ACCEPT4);
	put_tuple(&e, ret);
	put_none(&e);
	put_u32(&e, arg(&e, 3));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(bind)
{
	int fd;

	BEGIN(VIGIL_EV_BIND);
	fd = (int)arg(&e, 0);
	put_sockaddr(&e, (void *)arg(&e, 1), arg(&e, 2));
	put_u64(&e, (__s64)fd);
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

EXIT_PROG(listen)
{
	int fd;

	BEGIN(VIGIL_EV_LISTEN);
	fd = (int)arg(&e, 0);
	put_u64(&e, (__s64)fd);
	put_u32(&e, arg(&e, 1));
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

EXIT_PROG(sendto)
{
	int fd;
	__u64 size;

	BEGIN(VIGIL_EV_SENDTO);
	fd = (int)arg(&e, 0);
	size = arg(&e, 2);
	put_ubytes(&e, (void *)arg(&e, 1), ret > 0 ? (__u64)ret : 0, 128);
	put_u64(&e, (__s64)fd);
	put_u32(&e, (__u32)size);
	put_tuple_dest(&e, fd, (void *)arg(&e, 4), arg(&e, 5));
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

EXIT_PROG(sendmsg)
{
	int fd;
	struct user_msghdr mh = {};
	struct iovec iov = {};

	BEGIN(VIGIL_EV_SENDMSG);
	fd = (int)arg(&e, 0);
	bpf_probe_read_user(&mh, sizeof(mh), (void *)arg(&e, 1));
	if (mh.msg_iov && mh.msg_iovlen > 0)
		bpf_probe_read_user(&iov, sizeof(iov), mh.msg_iov);
	put_ubytes(&e, iov.iov_base, ret > 0 && (__u64)ret < iov.iov_len ? (__u64)ret : iov.iov_len, 128);
	put_u64(&e, (__s64)fd);
	put_u32(&e, ret > 0 ? (__u32)ret : 0);
	put_tuple_dest(&e, fd, mh.msg_name, mh.msg_namelen);
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

/* The peer address a receive call wrote back (src_addr, msg_name), with its length as the kernel
 * left it; an unconnected datagram socket's tuple takes it as the remote end. */
static __always_inline __u64 read_ulen(const void *p)
{
	int len = 0;

	if (p)
		bpf_probe_read_user(&len, sizeof(len), p);
	return len > 0 ? (__u64)len : 0;
}

EXIT_PROG(recvfrom)
{
	int fd;

	BEGIN(VIGIL_EV_RECVFROM);
	fd = (int)arg(&e, 0);
	put_ubytes(&e, (void *)arg(&e, 1), ret > 0 ? (__u64)ret : 0, 128);
	put_tuple_dest(&e, fd, (void *)arg(&e, 4), ret >= 0 ? read_ulen((void *)arg(&e, 5)) : 0);
	put_u64(&e, (__s64)fd);
	put_u32(&e, (__u32)arg(&e, 2));
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

EXIT_PROG(recvmsg)
{
	int fd;
	struct user_msghdr mh = {};
	struct iovec iov = {};

	BEGIN(VIGIL_EV_RECVMSG);
	fd = (int)arg(&e, 0);
	bpf_probe_read_user(&mh, sizeof(mh), (void *)arg(&e, 1));
	if (mh.msg_iov && mh.msg_iovlen > 0)
		bpf_probe_read_user(&iov, sizeof(iov), mh.msg_iov);
	put_u32(&e, ret > 0 ? (__u32)ret : 0);
	put_ubytes(&e, iov.iov_base, ret > 0 && (__u64)ret < iov.iov_len ? (__u64)ret : (ret > 0 ? iov.iov_len : 0), 128);
	put_tuple_dest(&e, fd, mh.msg_name, ret >= 0 ? mh.msg_namelen : 0);
	put_u64(&e, (__s64)fd);
	put_fdinfo(&e, fd);
	return ev_send(&e);
}

/* ---------------------------------------------------------------- descriptors */

EXIT_PROG(dup)
{
	BEGIN(VIGIL_EV_DUP);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(dup2)
{
	BEGIN(VIGIL_EV_DUP2);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u64(&e, (__s64)(int)arg(&e, 1));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(dup3)
{
	BEGIN(VIGIL_EV_DUP3);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u64(&e, (__s64)(int)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(fcntl)
{
	__u32 cmd;

	BEGIN(VIGIL_EV_FCNTL);
	cmd = (__u32)arg(&e, 1);
	/* only the dup forms matter to rules and state; the rest stay in the kernel */
	if (cmd != F_DUPFD_ && cmd != F_DUPFD_CLOEXEC_)
		return 0;
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u32(&e, cmd);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

/* ---------------------------------------------------------------- system */

EXIT_PROG(ptrace)
{
	BEGIN(VIGIL_EV_PTRACE);
	put_u64(&e, arg(&e, 2));
	put_u64(&e, arg(&e, 3));
	put_u32(&e, arg(&e, 0));
	put_u64(&e, (__s64)(int)arg(&e, 1));
	return ev_send(&e);
}

EXIT_PROG(mount)
{
	BEGIN(VIGIL_EV_MOUNT);
	put_ustr(&e, (void *)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_ustr(&e, (void *)arg(&e, 2));
	put_u32(&e, arg(&e, 3));
	return ev_send(&e);
}

/* umount2(2) is the kernel's "umount" syscall (x86_64 and arm64 alike) */
EXIT_PROG(umount)
{
	BEGIN(VIGIL_EV_UMOUNT2);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	return ev_send(&e);
}

EXIT_PROG(init_module)
{
	BEGIN(VIGIL_EV_INIT_MODULE);
	put_ubytes(&e, (void *)arg(&e, 0), arg(&e, 1), 128);
	put_u64(&e, arg(&e, 1));
	put_ustr(&e, (void *)arg(&e, 2));
	return ev_send(&e);
}

EXIT_PROG(finit_module)
{
	BEGIN(VIGIL_EV_FINIT_MODULE);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(userfaultfd)
{
	BEGIN(VIGIL_EV_USERFAULTFD);
	put_u32(&e, (__u32)arg(&e, 0));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(memfd_create)
{
	BEGIN(VIGIL_EV_MEMFD_CREATE);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(bpf)
{
	BEGIN(VIGIL_EV_BPF);
	put_u32(&e, arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(unshare)
{
	BEGIN(VIGIL_EV_UNSHARE);
	put_u32(&e, arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(setns)
{
	BEGIN(VIGIL_EV_SETNS);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(prctl)
{
	__u32 opt;

	BEGIN(VIGIL_EV_PRCTL);
	opt = (__u32)arg(&e, 0);
	put_u32(&e, opt);
	if (opt == PR_SET_NAME_)
		put_ustr(&e, (void *)arg(&e, 1));
	else
		put_none(&e);
	put_u64(&e, arg(&e, 1));
	return ev_send(&e);
}

/* ---------------------------------------------------------------- io_uring */
#include "probe/io-uring.h"

/* ---------------------------------------------------------------- generated (rules/event-table.ts) */
#include "probe/generated.h"

/*
 * One program for every event whose params are plain syscall arguments (EventSpec.generated):
 * the loader attaches it to each such call's exit tracepoint; the record's syscall number picks
 * the table entry (probe/generated.h) saying the event code and how to read each param. One
 * program verified once instead of one per call.
 */
SEC("tracepoint/syscalls/sys_exit_kill")
int exit_generic(struct sys_exit_args *ctx)
{
	const struct vigil_gen_spec *g;
	__u32 nr = (__u32)ctx->nr, si;

	if (nr >= VIGIL_GEN_NR_LIMIT)
		return 0;
	/* the masks only show the verifier the bounds the tables have */
	asm volatile("%[x] &= %[m]" : [x] "+r"(nr) : [m] "i"(VIGIL_GEN_NR_LIMIT - 1));
	si = vigil_gen_by_nr[nr];
	if (si == 0)
		return 0;
	asm volatile("%[x] &= %[m]" : [x] "+r"(si) : [m] "i"(VIGIL_GEN_SPECS_LIMIT - 1));
	g = &vigil_gen_specs[si];
	{
		BEGIN(g->type);
		for (int i = 0; i < 6; i++) {
			__u64 a;

			if (i >= g->n)
				break;
			a = arg(&e, g->arg[i]);
			switch (g->kind[i]) {
			case VIGIL_GK_INT:
				put_u64(&e, (__s64)(int)a);
				break;
			case VIGIL_GK_U64:
				put_u64(&e, a);
				break;
			case VIGIL_GK_U32:
				put_u32(&e, (__u32)a);
				break;
			case VIGIL_GK_STR:
				put_ustr(&e, (void *)a);
				break;
			case VIGIL_GK_IOV0: {
				/* the first buffer of the iovec array at the argument, as much of it as was written */
				struct iovec iov = {};

				if (ret > 0 && a)
					bpf_probe_read_user(&iov, sizeof(iov), (void *)a);
				put_ubytes(&e, iov.iov_base, (__u64)ret < iov.iov_len ? (__u64)ret : iov.iov_len, 128);
				break;
			}
			default:
				put_ubytes(&e, (void *)a, ret > 0 ? (__u64)ret : 0, 128);
			}
		}
		if (g->fdinfo == 1)
			put_fdinfo(&e, ret);
		else if (g->fdinfo == 2)
			put_fdinfo(&e, (int)arg(&e, g->fdarg));
		return ev_send(&e);
	}
}

/* ---------------------------------------------------------------- raw_syscalls fallback (calls without a tracepoint) */
#include "probe/raw-fallback.h"
