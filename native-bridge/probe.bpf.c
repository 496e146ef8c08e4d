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
	__u64 filtered; /* open-family events dropped by a pushed-down filter */
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

/* Masks a buffer offset in a way the compiler cannot drop, so the verifier sees the bound. */
static __always_inline __u64 idx(__u64 off)
{
	asm volatile("%[o] &= 0x7fff" : [o] "+r"(off));
	return off;
}

static __always_inline int room(struct ev *e, __u32 need)
{
	if (e->off + need > VIGIL_MAX_EVENT) {
		e->flags |= VIGIL_F_TRUNCATED;
		return 0;
	}
	return 1;
}

static __always_inline void set_len(struct ev *e, __u16 len)
{
	*(__u16 *)&e->buf[idx(e->off)] = len;
}

static __always_inline void put_none(struct ev *e)
{
	if (!room(e, 2))
		return;
	set_len(e, 0);
	e->off += 2;
	e->n++;
}

static __always_inline void put_u64(struct ev *e, __u64 v)
{
	if (!room(e, 10))
		return;
	set_len(e, 8);
	*(__u64 *)&e->buf[idx(e->off + 2)] = v;
	e->off += 10;
	e->n++;
}

static __always_inline void put_u32(struct ev *e, __u32 v)
{
	if (!room(e, 6))
		return;
	set_len(e, 4);
	*(__u32 *)&e->buf[idx(e->off + 2)] = v;
	e->off += 6;
	e->n++;
}

/* A NUL-terminated user string, up to STR_MAX bytes (NUL included). */
static __always_inline void put_ustr(struct ev *e, const void *p)
{
	long len;

	if (!room(e, 2 + STR_MAX))
		return;
	len = p ? bpf_probe_read_user_str(&e->buf[idx(e->off + 2)], STR_MAX, p) : 0;
	if (len < 0)
		len = 0;
	set_len(e, (__u16)len);
	e->off += 2 + ((__u32)len & (STR_MAX * 2 - 1));
	e->n++;
}

/* `len` raw user bytes (len <= max, max a power of two <= STR_MAX). */
static __always_inline void put_ubytes(struct ev *e, const void *p, __u64 len, __u32 max)
{
	if (!room(e, 2 + max))
		return;
	if (len > max)
		len = max;
	len &= (max * 2 - 1);
	if (len > max)
		len = max;
	if (!p || len == 0 || bpf_probe_read_user(&e->buf[idx(e->off + 2)], len, p) != 0)
		len = 0;
	set_len(e, (__u16)len);
	e->off += 2 + (__u32)len;
	e->n++;
}

static __always_inline __u64 arg(struct ev *e, int i)
{
	struct pt_regs *r = e->regs;

	switch (i) {
	case 0:
		return BPF_CORE_READ(r, di);
	case 1:
		return BPF_CORE_READ(r, si);
	case 2:
		return BPF_CORE_READ(r, dx);
	case 3:
		return BPF_CORE_READ(r, r10);
	case 4:
		return BPF_CORE_READ(r, r8);
	default:
		return BPF_CORE_READ(r, r9);
	}
}

/*
 * Writes the collected path components comps[n-1] .. comps[0] as "/a/b/c" into one param,
 * preceded (prefix > 0) by the two fd-info bytes stored in the scratch map (kind, aux).
 * The component pointers are kernel strings.
 */
struct wctx {
	struct ev *e;
	__u32 start;
	int n;
};

/* bpf_loop callback: appends "/" + comps[n-1-i]; the callback is verified once, not per turn. */
static long write_comp_cb(__u32 i, void *data)
{
	struct wctx *c = data;
	struct ev *e = c->e;
	int j = c->n - 1 - (int)i;
	__u32 w = *e->wp;
	long l;

	if (j < 0)
		return 1;
	if (w > STR_MAX - NAME_MAX_ - 2) {
		e->flags |= VIGIL_F_TRUNCATED;
		return 1;
	}
	e->buf[idx(c->start + w)] = '/';
	w++;
	l = bpf_probe_read_kernel_str(&e->buf[idx(c->start + w)], NAME_MAX_,
				      (const void *)e->comps[j & (MAX_COMP - 1)]);
	if (l > 1 && l <= NAME_MAX_)
		w += (__u32)(l - 1);
	*e->wp = w;
	return 0;
}

static __always_inline void write_comps(struct ev *e, int n, int prefix)
{
	struct wctx c = { .e = e, .n = n };
	__u32 w = 0;

	if (!room(e, 2 + STR_MAX + 2))
		return;
	c.start = e->off + 2;
	if (prefix > 0) {
		__u32 p = e->wp[1];

		e->buf[idx(c.start)] = (__u8)p;
		e->buf[idx(c.start + 1)] = (__u8)(p >> 8);
		w = 2;
	}
	if (n == 0) {
		e->buf[idx(c.start + w)] = '/';
		w++;
	}
	*e->wp = w;
	if (n > 0)
		bpf_loop(MAX_COMP, write_comp_cb, &c, 0);
	w = *e->wp & (STR_MAX - 1);
	e->buf[idx(c.start + w)] = 0;
	w++;
	set_len(e, (__u16)w);
	e->off += 2 + w;
	e->n++;
}

struct walkctx {
	struct ev *e;
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *mnt;
	struct dentry *root_d;
	struct vfsmount *root_m;
	int n;
};

/* bpf_loop callback: one step from a dentry towards the task's root, crossing mounts. */
static long walk_cb(__u32 i, void *data)
{
	struct walkctx *c = data;
	struct dentry *d = c->d, *mroot, *parent;
	struct vfsmount *vm = c->vm;
	struct mount *mnt = c->mnt;

	if (!d || (d == c->root_d && vm == c->root_m))
		return 1;
	mroot = BPF_CORE_READ(vm, mnt_root);
	if (d == mroot) {
		struct mount *pm = BPF_CORE_READ(mnt, mnt_parent);

		if (pm == mnt || !pm)
			return 1;
		c->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = pm;
		c->vm = (struct vfsmount *)((char *)pm + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	parent = BPF_CORE_READ(d, d_parent);
	c->e->comps[c->n & (MAX_COMP - 1)] = (__u64)BPF_CORE_READ(d, d_name.name);
	c->n++;
	if (parent == d || c->n >= MAX_COMP)
		return 1;
	c->d = parent;
	return 0;
}

/*
 * The path of a dentry as the task sees it (stopping at the task's root, crossing mounts), like
 * d_path. A dentry without a parent (memfd, pipe, socket) yields "/<name>".
 */
static __noinline void put_dentry_path(struct ev *e, struct dentry *d, struct vfsmount *vm, int prefix)
{
	struct task_struct *t = e->task;
	struct walkctx c = {
		.e = e,
		.d = d,
		.vm = vm,
		.mnt = container_of(vm, struct mount, mnt),
		.root_d = BPF_CORE_READ(t, fs, root.dentry),
		.root_m = BPF_CORE_READ(t, fs, root.mnt),
		.n = 0,
	};

	bpf_loop(MAX_WALK, walk_cb, &c, 0);
	write_comps(e, c.n, prefix);
}

struct cgctx {
	struct ev *e;
	struct kernfs_node *kn;
	int n;
};

static long cg_cb(__u32 i, void *data)
{
	struct cgctx *c = data;
	struct kernfs_node *kn = c->kn, *parent;

	if (!kn)
		return 1;
	if (bpf_core_field_exists(struct kernfs_node___new, __parent))
		parent = BPF_CORE_READ((struct kernfs_node___new *)kn, __parent);
	else
		parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
	if (!parent)
		return 1;
	c->e->comps[c->n & (MAX_COMP - 1)] = (__u64)BPF_CORE_READ(kn, name);
	c->n++;
	c->kn = parent;
	return c->n >= MAX_COMP;
}

/* The task's cgroup v2 path ("/" for the root cgroup). */
static __noinline void put_cgroup_path(struct ev *e)
{
	struct task_struct *t = e->task;
	struct cgctx c = { .e = e, .kn = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn), .n = 0 };

	bpf_loop(MAX_COMP, cg_cb, &c, 0);
	write_comps(e, c.n, 0);
}

/* ---------------------------------------------------------------- task facts */

static __always_inline __u32 pid_nr_level(struct pid *p, int vlevel)
{
	unsigned int level;
	struct upid *up;
	int nr = 0;

	if (!p)
		return 0;
	level = vlevel ? BPF_CORE_READ(p, level) : 0;
	up = (struct upid *)((char *)p + bpf_core_field_offset(struct pid, numbers) +
			     (level & 31) * bpf_core_type_size(struct upid));
	bpf_core_read(&nr, sizeof(nr), &up->nr);
	return (__u32)nr;
}

static __always_inline struct file *fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt;
	struct file **fda;
	struct file *f = NULL;
	unsigned int max;

	if (fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(t, files, fdt);
	max = BPF_CORE_READ(fdt, max_fds);
	if ((__u64)fd >= max)
		return NULL;
	fda = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fda[fd & 0xfffff]);
	return f;
}

static __always_inline int inode_is_upper(struct inode *ino)
{
	struct ovl_inode *oi;
	struct dentry *upper = NULL;

	if (BPF_CORE_READ(ino, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return -1;
	oi = container_of(ino, struct ovl_inode, vfs_inode);
	bpf_core_read(&upper, sizeof(upper), &oi->__upperdentry);
	return upper != NULL;
}

/* Falco's execve flags: EXE_WRITABLE=1, EXE_UPPER_LAYER=2, EXE_FROM_MEMFD=4, EXE_LOWER_LAYER=8. */
static __always_inline __u32 exe_flags(struct task_struct *t, struct file *exe)
{
	struct inode *ino = BPF_CORE_READ(exe, f_inode);
	const struct cred *c = BPF_CORE_READ(t, cred);
	__u32 flags = 0, fsuid, fsgid, iuid, igid;
	umode_t mode;
	__u64 capeff = 0;
	char name[8] = {};
	int up;

	up = inode_is_upper(ino);
	if (up == 1)
		flags |= 2;
	else if (up == 0)
		flags |= 8;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
		flags |= 4;
	mode = BPF_CORE_READ(ino, i_mode);
	fsuid = BPF_CORE_READ(c, fsuid.val);
	fsgid = BPF_CORE_READ(c, fsgid.val);
	iuid = BPF_CORE_READ(ino, i_uid.val);
	igid = BPF_CORE_READ(ino, i_gid.val);
	bpf_core_read(&capeff, sizeof(capeff), &c->cap_effective);
	if ((fsuid == iuid && (mode & 0200)) || (fsgid == igid && (mode & 0020)) || (mode & 0002) ||
	    (capeff & (1ULL << 1) /* CAP_DAC_OVERRIDE */))
		flags |= 1;
	return flags;
}

static __always_inline __u32 tty_nr(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	__u32 major, minor;

	if (!tty)
		return 0;
	major = BPF_CORE_READ(tty, driver, major);
	minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	/* new_encode_dev(), as /proc/<pid>/stat's tty_nr */
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

static __always_inline __u64 read_cap(const struct cred *c, int which)
{
	__u64 v = 0;

	if (which == 0)
		bpf_core_read(&v, sizeof(v), &c->cap_inheritable);
	else if (which == 1)
		bpf_core_read(&v, sizeof(v), &c->cap_permitted);
	else
		bpf_core_read(&v, sizeof(v), &c->cap_effective);
	return v;
}

/*
 * The process block of exec- and clone-family frames (FORMAT.md "process block"):
 * 0 exe(argv0) 1 args 2 cwd 3 env 4 exepath 5 cgroup path 6 sid 7 pgid 8 vpgid 9 vpid 10 vtid
 * 11 egid 12 tty 13 cap_inh 14 cap_perm 15 cap_eff 16 exe flags 17 exe ino 18 exe ctime
 * 19 exe mtime 20 pidns init start ts.
 */
static __noinline void put_proc_block(struct ev *e)
{
	struct task_struct *t = e->task;
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	const struct cred *c = BPF_CORE_READ(t, cred);
	struct file *exe = mm ? BPF_CORE_READ(mm, exe_file) : NULL;
	struct pid *tp = BPF_CORE_READ(t, thread_pid);
	struct pid *lp = BPF_CORE_READ(t, group_leader, thread_pid);
	struct pid *pg = BPF_CORE_READ(t, signal, pids[PIDTYPE_PGID]);
	struct pid *sp = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID]);
	struct inode *ino = exe ? BPF_CORE_READ(exe, f_inode) : NULL;
	__u64 as = 0, ae = 0, es = 0, ee = 0, reaper_ts = 0;
	long l0 = 0;

	if (mm) {
		as = BPF_CORE_READ(mm, arg_start);
		ae = BPF_CORE_READ(mm, arg_end);
		es = BPF_CORE_READ(mm, env_start);
		ee = BPF_CORE_READ(mm, env_end);
	}
	/* 0 exe: argv[0] */
	if (room(e, 2 + STR_MAX)) {
		l0 = as ? bpf_probe_read_user_str(&e->buf[idx(e->off + 2)], STR_MAX, (void *)as) : 0;
		if (l0 < 0)
			l0 = 0;
		set_len(e, (__u16)l0);
		e->off += 2 + ((__u32)l0 & (STR_MAX * 2 - 1));
		e->n++;
	}
	/* 1 args: argv[1..] as NUL-separated strings */
	if (as && ae > as + l0)
		put_ubytes(e, (void *)(as + l0), ae - as - l0, STR_MAX);
	else
		put_ubytes(e, NULL, 0, STR_MAX);
	/* 2 cwd */
	put_dentry_path(e, BPF_CORE_READ(t, fs, pwd.dentry), BPF_CORE_READ(t, fs, pwd.mnt), 0);
	/* 3 env */
	if (collect_env && es && ee > es)
		put_ubytes(e, (void *)es, ee - es, STR_MAX);
	else
		put_none(e);
	/* 4 exepath */
	if (exe)
		put_dentry_path(e, BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), 0);
	else
		put_none(e);
	/* 5 cgroup path */
	put_cgroup_path(e);
	put_u32(e, pid_nr_level(sp, 0));
	put_u32(e, pid_nr_level(pg, 0));
	put_u32(e, pid_nr_level(pg, 1));
	put_u32(e, pid_nr_level(lp, 1));
	put_u32(e, pid_nr_level(tp, 1));
	put_u32(e, BPF_CORE_READ(c, egid.val));
	put_u32(e, tty_nr(t));
	put_u64(e, read_cap(c, 0));
	put_u64(e, read_cap(c, 1));
	put_u64(e, read_cap(c, 2));
	if (exe) {
		put_u32(e, exe_flags(t, exe));
		put_u64(e, BPF_CORE_READ(ino, i_ino));
		put_u64(e, (__u64)BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_ctime_nsec));
		put_u64(e, (__u64)BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(ino, i_mtime_nsec));
	} else {
		put_none(e);
		put_none(e);
		put_none(e);
		put_none(e);
	}
	{
		unsigned int level = BPF_CORE_READ(tp, level);
		struct upid *up = (struct upid *)((char *)tp + bpf_core_field_offset(struct pid, numbers) +
						  (level & 31) * bpf_core_type_size(struct upid));
		struct pid_namespace *ns = NULL;

		bpf_core_read(&ns, sizeof(ns), &up->ns);
		if (ns)
			reaper_ts = BPF_CORE_READ(ns, child_reaper, start_boottime);
	}
	put_u64(e, reaper_ts);
}

/* Socket tuple: family, then local addr/port and remote addr/port (INET), or unix path. */
static __always_inline void write_sock(struct ev *e, struct sock *sk, int prefixed)
{
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u32 start, w = 0;
	__u8 proto = (__u8)BPF_CORE_READ(sk, sk_protocol);

	if (BPF_CORE_READ(sk, sk_type) == SOCK_RAW_)
		proto = 255;
	if (!room(e, 2 + 2 + 1 + 36 + 110))
		return;
	start = e->off + 2;
	if (prefixed) {
		e->buf[idx(start)] =
			fam == VIGIL_AF_INET ? VIGIL_FD_IPV4 :
			fam == VIGIL_AF_INET6 ? VIGIL_FD_IPV6 :
			fam == VIGIL_AF_UNIX ? VIGIL_FD_UNIX : VIGIL_FD_SOCK_OTHER;
		e->buf[idx(start + 1)] = proto;
		w = 2;
	}
	e->buf[idx(start + w)] = (__u8)fam;
	w++;
	if (fam == VIGIL_AF_INET) {
		__u32 la = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 ra = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__u16 lp = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rp = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

		*(__u32 *)&e->buf[idx(start + w)] = la;
		*(__u16 *)&e->buf[idx(start + w + 4)] = lp;
		*(__u32 *)&e->buf[idx(start + w + 6)] = ra;
		*(__u16 *)&e->buf[idx(start + w + 10)] = rp;
		w += 12;
	} else if (fam == VIGIL_AF_INET6) {
		__u16 lp = BPF_CORE_READ(sk, __sk_common.skc_num);
		__u16 rp = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));

		bpf_core_read(&e->buf[idx(start + w)], 16, &sk->__sk_common.skc_v6_rcv_saddr);
		*(__u16 *)&e->buf[idx(start + w + 16)] = lp;
		bpf_core_read(&e->buf[idx(start + w + 18)], 16, &sk->__sk_common.skc_v6_daddr);
		*(__u16 *)&e->buf[idx(start + w + 34)] = rp;
		w += 36;
	} else if (fam == VIGIL_AF_UNIX) {
		struct unix_sock *us = (struct unix_sock *)sk;
		struct unix_address *ua = BPF_CORE_READ(us, addr);
		long l;

		if (!ua) {
			struct unix_sock *peer = (struct unix_sock *)BPF_CORE_READ(us, peer);

			ua = peer ? BPF_CORE_READ(peer, addr) : NULL;
		}
		if (ua) {
			l = bpf_probe_read_kernel_str(&e->buf[idx(start + w)], 108,
						      (char *)ua + bpf_core_field_offset(struct unix_address, name) + 2);
			if (l > 1)
				w += (__u32)(l - 1);
		}
	}
	set_len(e, (__u16)w);
	e->off += 2 + (w & 255);
	e->n++;
}

/* The "fd info" extension param for descriptor `fd` of the current task (FORMAT.md). */
static __noinline void put_fdinfo(struct ev *e, long fd)
{
	struct file *f = fd_file(e->task, fd);
	struct inode *ino;
	__u32 mode;
	__u8 kind, aux = 0;
	int up;

	if (!f) {
		put_none(e);
		return;
	}
	ino = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(ino, i_mode) & S_IFMT_;
	if (mode == S_IFSOCK_) {
		struct socket *so = BPF_CORE_READ(f, private_data);
		struct sock *sk = so ? BPF_CORE_READ(so, sk) : NULL;

		if (!sk) {
			put_none(e);
			return;
		}
		write_sock(e, sk, 1);
		return;
	}
	switch (mode) {
	case S_IFREG_:
		kind = VIGIL_FD_FILE;
		break;
	case S_IFDIR_:
		kind = VIGIL_FD_DIR;
		break;
	case S_IFIFO_:
		kind = VIGIL_FD_PIPE;
		break;
	case S_IFCHR_:
		kind = VIGIL_FD_CHAR;
		break;
	case S_IFBLK_:
		kind = VIGIL_FD_BLOCK;
		break;
	default:
		kind = VIGIL_FD_ANON;
	}
	up = inode_is_upper(ino);
	if (up == 1)
		aux |= 1;
	else if (up == 0)
		aux |= 2;
	e->wp[1] = kind | (aux << 8);
	put_dentry_path(e, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), 1);
}

/* Device and inode of the file open at `fd` (open-family `dev`, `ino` params). */
static __always_inline void put_dev_ino(struct ev *e, long fd)
{
	struct file *f = fd_file(e->task, fd);
	struct inode *ino;

	if (!f) {
		put_none(e);
		put_none(e);
		return;
	}
	ino = BPF_CORE_READ(f, f_inode);
	put_u32(e, BPF_CORE_READ(ino, i_sb, s_dev));
	put_u64(e, BPF_CORE_READ(ino, i_ino));
}

/* A tuple param from the socket at `fd`. */
static __always_inline void put_tuple(struct ev *e, long fd)
{
	struct file *f = fd_file(e->task, fd);
	struct socket *so;
	struct sock *sk;

	if (!f) {
		put_none(e);
		return;
	}
	so = BPF_CORE_READ(f, private_data);
	sk = so ? BPF_CORE_READ(so, sk) : NULL;
	if (!sk || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT_) != S_IFSOCK_) {
		put_none(e);
		return;
	}
	write_sock(e, sk, 0);
}

/* A user sockaddr param: family, then addr and port (INET) or path (unix). */
static __always_inline void put_sockaddr(struct ev *e, const void *p, __u64 len)
{
	__u8 sa[28] = {};
	__u16 fam;
	__u32 start, w = 1;

	if (!p || len < 2 || bpf_probe_read_user(sa, sizeof(sa) < len ? sizeof(sa) : (len & 31), p) != 0) {
		put_none(e);
		return;
	}
	if (!room(e, 2 + 1 + 18 + 110))
		return;
	fam = *(__u16 *)sa;
	start = e->off + 2;
	e->buf[idx(start)] = (__u8)fam;
	if (fam == VIGIL_AF_INET) {
		*(__u32 *)&e->buf[idx(start + 1)] = *(__u32 *)&sa[4];
		*(__u16 *)&e->buf[idx(start + 5)] = bpf_ntohs(*(__u16 *)&sa[2]);
		w += 6;
	} else if (fam == VIGIL_AF_INET6) {
		__builtin_memcpy(&e->buf[idx(start + 1)], &sa[8], 16);
		*(__u16 *)&e->buf[idx(start + 17)] = bpf_ntohs(*(__u16 *)&sa[2]);
		w += 18;
	} else if (fam == VIGIL_AF_UNIX) {
		long l = bpf_probe_read_user_str(&e->buf[idx(start + 1)], 108, (const char *)p + 2);

		if (l > 1)
			w += (__u32)(l - 1);
	}
	set_len(e, (__u16)w);
	e->off += 2 + (w & 255);
	e->n++;
}

/* ---------------------------------------------------------------- pushed-down filters */


/*
 * Steps from dentry `*d` of mount `*m` to the dentry that names it in the task's view: across
 * mount roots to their mountpoints, as the path walk does. Returns 0 when `*d` is the task's
 * root or the global root (no name), -1 when mounts are stacked deeper than we follow.
 */
static __always_inline int named_dentry(struct dentry **d, struct mount **m, struct dentry *root_d,
					struct vfsmount *root_m)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		struct vfsmount *vm = (struct vfsmount *)((char *)*m + bpf_core_field_offset(struct mount, mnt));
		struct mount *pm;

		if (*d == root_d && vm == root_m)
			return 0;
		if (*d != BPF_CORE_READ(vm, mnt_root))
			return 1;
		pm = BPF_CORE_READ(*m, mnt_parent);
		if (!pm || pm == *m)
			return 0;
		*d = BPF_CORE_READ(*m, mnt_mountpoint);
		*m = pm;
	}
	return -1;
}

/* Clause bits of a name (kernel string) in dimension `dim`; 0 when not in any set. */
static __always_inline __u32 kname_bits(struct vigil_fname_key *k, __u8 dim, const void *name)
{
	__u32 *bits;
	long l;

	__builtin_memset(k->name, 0, sizeof(k->name));
	k->dim = dim;
	l = bpf_probe_read_kernel_str(k->name, sizeof(k->name), name);
	/* a name filling the key is longer than any name in a set */
	if (l <= 1 || l >= VIGIL_FNAME_MAX)
		return 0;
	bits = bpf_map_lookup_elem(&filter_names, k);
	return bits ? *bits : 0;
}

#define NAMES_UNKNOWN 0xffffffffU

/*
 * Clause bits of the file opened at `fd`, named as the path walk (put_dentry_path) names it:
 * leaf-set bits in 0-7, parent-set bits in 8-15. A file at the root has no leaf (or parent)
 * name, so no bit. NAMES_UNKNOWN when the file cannot be looked at (every clause passes).
 */
static __noinline __u32 file_name_bits(struct task_struct *t, long fd, __u32 type, __u32 need)
{
	struct vigil_fname_key k = { .type = (__u16)type };
	struct file *f = fd_file(t, fd);
	struct dentry *d, *p, *root_d;
	struct vfsmount *root_m;
	struct mount *m;
	__u32 leafb = 0, parb = 0;
	int r;

	if (!f)
		return NAMES_UNKNOWN;
	d = BPF_CORE_READ(f, f_path.dentry);
	m = container_of(BPF_CORE_READ(f, f_path.mnt), struct mount, mnt);
	root_d = BPF_CORE_READ(t, fs, root.dentry);
	root_m = BPF_CORE_READ(t, fs, root.mnt);
	r = named_dentry(&d, &m, root_d, root_m);
	if (r < 0)
		return NAMES_UNKNOWN;
	if (r > 0 && (need & VIGIL_NEED_LEAF))
		leafb = kname_bits(&k, VIGIL_DIM_LEAF, BPF_CORE_READ(d, d_name.name));
	if (r > 0 && (need & VIGIL_NEED_PARENT)) {
		p = BPF_CORE_READ(d, d_parent);
		r = p == d ? 0 : named_dentry(&p, &m, root_d, root_m);
		if (r < 0)
			return NAMES_UNKNOWN;
		if (r > 0)
			parb = kname_bits(&k, VIGIL_DIM_PARENT, BPF_CORE_READ(p, d_name.name));
	}
	return (leafb & 0xff) | ((parb & 0xff) << 8);
}

struct ddctx {
	const __u8 *s;
	__u32 len;
	__u32 top_end; /* index of the second '/' of an absolute argument, 0 while not seen */
	int found;
	int want_dd;
};

/* bpf_loop callback over the path argument: finds "../" and the end of the first component. */
static long scan_cb(__u32 i, void *data)
{
	struct ddctx *c = data;
	__u8 ch;

	if (i >= c->len)
		return 1;
	ch = c->s[i & (STR_MAX - 1)];
	if (ch == '/' && i > 0 && !c->top_end && c->s[0] == '/')
		c->top_end = i;
	if (c->want_dd && ch == '.' && i + 2 < c->len && c->s[(i + 1) & (STR_MAX - 1)] == '.' &&
	    c->s[(i + 2) & (STR_MAX - 1)] == '/')
		c->found = 1;
	/* done when both answers are known */
	return (c->found || !c->want_dd) && (c->top_end || c->s[0] != '/') ? 1 : 0;
}

/*
 * The pushed-down predicate of an open-family event: 1 to send it, 0 to drop it (counted).
 * Cheap checks first (result, access mode, flags, as clause bit masks); the path argument and
 * the file's names are read only when a clause still alive needs them. A global function: the
 * verifier checks it once, not inside every program that calls it.
 */
__noinline int open_wanted(__u32 type, long ret, __u32 flags, __u64 upath)
{
	struct vigil_filter *f = bpf_map_lookup_elem(&filters, &type);
	struct counters *cnt;
	__u32 live, zero = 0, cpu;

	if (!f || !f->on)
		return 1;
	live = f->res_mask[ret < 0 ? 1 : 0] & f->acc_mask[flags & 3];
#pragma unroll
	for (int i = 0; i < VIGIL_FILTER_CLAUSES; i++) {
		__u32 fa = f->c[i].flags_all;

		if ((flags & fa) != fa)
			live &= ~(1U << i);
	}
	if (live & f->free_mask)
		return 1;
	if (live && ret >= 0 && (live & (f->need_mask[1] | f->need_mask[2]))) {
		__u32 b = file_name_bits((struct task_struct *)bpf_get_current_task_btf(), ret, type,
					 ((live & f->need_mask[1]) ? VIGIL_NEED_LEAF : 0) |
						 ((live & f->need_mask[2]) ? VIGIL_NEED_PARENT : 0));

		if (b != NAMES_UNKNOWN)
			live &= (~(__u32)f->need_mask[1] | (b & 0xff)) & (~(__u32)f->need_mask[2] | (b >> 8));
	}
	if (live & (f->need_mask[0] | f->need_mask[3] | f->need_mask[4])) {
		struct scratch *s;
		long l;

		cpu = bpf_get_smp_processor_id();
		s = bpf_map_lookup_elem(&scratch_map, &cpu);
		if (!s)
			return 1;
		l = upath ? bpf_probe_read_user_str(&s->buf[VIGIL_MAX_EVENT], STR_MAX, (const void *)upath) : -1;
		if (l < 1)
			return 1; /* unreadable argument: no proof */
		if (live & (f->need_mask[0] | f->need_mask[4])) {
			struct ddctx dc = { .s = &s->buf[VIGIL_MAX_EVENT], .len = (__u32)l - 1,
					    .want_dd = (live & f->need_mask[0]) != 0 };

			bpf_loop(STR_MAX, scan_cb, &dc, 0);
			if (!dc.found)
				live &= ~(__u32)f->need_mask[0];
			if (live & f->need_mask[4]) {
				struct vigil_fname_key k = { .type = (__u16)type, .dim = VIGIL_DIM_RAWTOP };
				__u32 n = dc.top_end - 1, *bits = NULL;

				/* "/name/...": name is 1..59 bytes */
				if (dc.top_end > 1 && n < VIGIL_FNAME_MAX - 1) {
					bpf_probe_read_kernel(k.name, n & 63, &s->buf[VIGIL_MAX_EVENT + 1]);
					bits = bpf_map_lookup_elem(&filter_names, &k);
				}
				live &= ~(__u32)f->need_mask[4] | (bits ? *bits : 0);
			}
		}
		if (live & f->need_mask[3]) {
			struct vigil_fname_key k = { .type = (__u16)type, .dim = VIGIL_DIM_RAW };
			__u32 *bits = NULL;

			/* a longer argument is longer than any name in a set */
			if (l < VIGIL_FNAME_MAX && bpf_probe_read_user_str(k.name, sizeof(k.name), (const void *)upath) == l)
				bits = bpf_map_lookup_elem(&filter_names, &k);
			live &= ~(__u32)f->need_mask[3] | (bits ? *bits : 0);
		}
	}
	if (live)
		return 1;
	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (cnt)
		cnt->filtered++;
	return 0;
}

/* ---------------------------------------------------------------- begin / send */

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
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	else
		flags = BPF_RB_NO_WAKEUP;
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

#define TMPFS_MAGIC_ 0x01021994
#define SIGKILL_ 9
#define PREVENT_MAX_DEPTH 8

/* The policy bits armed for the current task's cgroup or its nearest armed ancestor. */
static __always_inline __u32 prevent_policy(void)
{
	__u64 id = bpf_get_current_cgroup_id();
	__u32 *p = bpf_map_lookup_elem(&prevent, &id);

	if (p)
		return *p;
	/* nearest ancestor first; level 0 (the root cgroup, every host process) is never armed */
	for (int lvl = PREVENT_MAX_DEPTH; lvl >= 1; lvl--) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			continue;
		p = bpf_map_lookup_elem(&prevent, &id);
		if (p)
			return *p;
	}
	return 0;
}

/* Which VIGIL_PREVENT_* kinds the current task's (new) executable is. */
static __always_inline __u32 drift_kinds(struct task_struct *t)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	struct inode *ino;
	char name[18] = {};
	__u32 kinds = 0;

	if (!exe)
		return 0;
	ino = BPF_CORE_READ(exe, f_inode);
	if (inode_is_upper(ino) == 1)
		kinds |= VIGIL_PREVENT_UPPER;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':') {
		/* runc re-executes itself from a memfd clone ("memfd:runc_cloned:..."): not drift */
		if (!(name[6] == 'r' && name[7] == 'u' && name[8] == 'n' && name[9] == 'c' && name[10] == '_' &&
		      name[11] == 'c' && name[12] == 'l' && name[13] == 'o' && name[14] == 'n' && name[15] == 'e' &&
		      name[16] == 'd'))
			kinds |= VIGIL_PREVENT_MEMFD;
	} else if (BPF_CORE_READ(ino, i_sb, s_magic) == TMPFS_MAGIC_) {
		kinds |= VIGIL_PREVENT_TMPFS;
	}
	return kinds;
}

/*
 * At a successful exec's exit the task already runs the new image but no instruction of it has
 * run: a SIGKILL sent now is delivered on the way back to user space. Returns 1 when the program
 * was killed. Excluded tgids (the agent, the loader) are never killed.
 */
static __always_inline int prevent_exec(long ret)
{
	struct task_struct *t;
	struct prevent_counters *cnt;
	__u32 policy, zero = 0, tgid;

	if (ret != 0)
		return 0;
	policy = prevent_policy();
	if (!policy)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&excluded, &tgid))
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	if (!(drift_kinds(t) & policy))
		return 0;
	cnt = bpf_map_lookup_elem(&prevent_counters, &zero);
	if (bpf_send_signal(SIGKILL_) != 0) {
		if (cnt)
			cnt->signal_failed++;
		return 0;
	}
	if (cnt)
		cnt->blocked++;
	return 1;
}

/* ---------------------------------------------------------------- process life */

EXIT_PROG(execve)
{
	int blocked = prevent_exec(ctx->ret);

	BEGIN(VIGIL_EV_EXECVE);
	if (blocked)
		e.flags |= VIGIL_F_BLOCKED;
	put_proc_block(&e);
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

	return clone_common(ctx, VIGIL_EV_CLONE, BPF_CORE_READ(r, di));
}

EXIT_PROG(clone3)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
	__u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (void *)BPF_CORE_READ(r, di));
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

static __always_inline struct pt_regs *cur_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
}

EXIT_PROG(open)
{
	struct pt_regs *r = cur_regs();

	if (!open_wanted(VIGIL_EV_OPEN, ctx->ret, (__u32)BPF_CORE_READ(r, si), BPF_CORE_READ(r, di)))
		return 0;
	BEGIN(VIGIL_EV_OPEN);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(openat)
{
	struct pt_regs *r = cur_regs();

	if (!open_wanted(VIGIL_EV_OPENAT, ctx->ret, (__u32)BPF_CORE_READ(r, dx), BPF_CORE_READ(r, si)))
		return 0;
	BEGIN(VIGIL_EV_OPENAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_u32(&e, arg(&e, 3));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(openat2)
{
	struct pt_regs *r = cur_regs();
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(r, dx));
	if (!open_wanted(VIGIL_EV_OPENAT2, ctx->ret, (__u32)how.flags, BPF_CORE_READ(r, si)))
		return 0;
	BEGIN(VIGIL_EV_OPENAT2);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, (__u32)how.flags);
	put_u32(&e, (__u32)how.mode);
	put_u64(&e, how.resolve);
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(creat)
{
	BEGIN(VIGIL_EV_CREAT);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(close)
{
	BEGIN(VIGIL_EV_CLOSE);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	return ev_send(&e);
}

/* path, path */
#define PROG_PP(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_ustr(&e, (void *)arg(&e, 1));     \
		return ev_send(&e);                   \
	}
PROG_PP(rename, VIGIL_EV_RENAME)
PROG_PP(link, VIGIL_EV_LINK)
PROG_PP(symlink, VIGIL_EV_SYMLINK)

/* path */
#define PROG_P(name, type)                            \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		return ev_send(&e);                   \
	}
PROG_P(unlink, VIGIL_EV_UNLINK)
PROG_P(rmdir, VIGIL_EV_RMDIR)
PROG_P(chdir, VIGIL_EV_CHDIR)

/* path, mode */
#define PROG_PM(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_u32(&e, arg(&e, 1));              \
		return ev_send(&e);                   \
	}
PROG_PM(mkdir, VIGIL_EV_MKDIR)
PROG_PM(chmod, VIGIL_EV_CHMOD)

/* dirfd, path, u32 */
#define PROG_DPU(name, type)                          \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_ustr(&e, (void *)arg(&e, 1));     \
		put_u32(&e, arg(&e, 2));              \
		return ev_send(&e);                   \
	}
PROG_DPU(unlinkat, VIGIL_EV_UNLINKAT)
PROG_DPU(mkdirat, VIGIL_EV_MKDIRAT)
PROG_DPU(fchmodat, VIGIL_EV_FCHMODAT)

EXIT_PROG(renameat)
{
	BEGIN(VIGIL_EV_RENAMEAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u64(&e, (__s64)(int)arg(&e, 2));
	put_ustr(&e, (void *)arg(&e, 3));
	return ev_send(&e);
}

/* olddirfd, oldpath, newdirfd, newpath, flags */
#define PROG_DPDPU(name, type)                        \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_ustr(&e, (void *)arg(&e, 1));     \
		put_u64(&e, (__s64)(int)arg(&e, 2));  \
		put_ustr(&e, (void *)arg(&e, 3));     \
		put_u32(&e, arg(&e, 4));              \
		return ev_send(&e);                   \
	}
PROG_DPDPU(renameat2, VIGIL_EV_RENAMEAT2)
PROG_DPDPU(linkat, VIGIL_EV_LINKAT)

EXIT_PROG(symlinkat)
{
	BEGIN(VIGIL_EV_SYMLINKAT);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u64(&e, (__s64)(int)arg(&e, 1));
	put_ustr(&e, (void *)arg(&e, 2));
	return ev_send(&e);
}

/* fd, u32 (+ fd info) */
#define PROG_FU(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_u32(&e, arg(&e, 1));              \
		put_fdinfo(&e, (int)arg(&e, 0));      \
		return ev_send(&e);                   \
	}
PROG_FU(fchmod, VIGIL_EV_FCHMOD)

/* path, uid, gid */
#define PROG_PUG(name, type)                          \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_u32(&e, arg(&e, 1));              \
		put_u32(&e, arg(&e, 2));              \
		return ev_send(&e);                   \
	}
PROG_PUG(chown, VIGIL_EV_CHOWN)
PROG_PUG(lchown, VIGIL_EV_LCHOWN)

EXIT_PROG(fchown)
{
	BEGIN(VIGIL_EV_FCHOWN);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(fchownat)
{
	BEGIN(VIGIL_EV_FCHOWNAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_u32(&e, arg(&e, 3));
	put_u32(&e, arg(&e, 4));
	return ev_send(&e);
}

EXIT_PROG(truncate)
{
	BEGIN(VIGIL_EV_TRUNCATE);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u64(&e, arg(&e, 1));
	return ev_send(&e);
}

EXIT_PROG(ftruncate)
{
	BEGIN(VIGIL_EV_FTRUNCATE);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u64(&e, arg(&e, 1));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(fchdir)
{
	BEGIN(VIGIL_EV_FCHDIR);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

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
	put_tuple(&e, fd);
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
	put_tuple(&e, fd);
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

/* umount2(2) is the kernel's "umount" syscall on x86_64 */
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
