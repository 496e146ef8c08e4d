// SPDX-License-Identifier: Apache-2.0
/* Frame building: bounds helpers, the put_*() param writers, syscall arguments, and the kernel-side path writers (dentry walk across mounts, cgroup path).
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

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

/* Syscall argument i (0-5) of the current call, from the saved user registers (probe.bpf.c, "Syscall arguments"). */
static __always_inline __u64 arg(struct ev *e, int i)
{
	struct pt_regs *r = e->regs;

	switch (i) {
	case 0:
		return PT_REGS_PARM1_CORE_SYSCALL(r);
	case 1:
		return PT_REGS_PARM2_CORE_SYSCALL(r);
	case 2:
		return PT_REGS_PARM3_CORE_SYSCALL(r);
	case 3:
		return PT_REGS_PARM4_CORE_SYSCALL(r);
	case 4:
		return PT_REGS_PARM5_CORE_SYSCALL(r);
	default:
		return PT_REGS_PARM6_CORE_SYSCALL(r);
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
