// SPDX-License-Identifier: Apache-2.0
/* Pushed-down open-family filters (FORMAT.md "Kernel filters").
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

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

	struct vigil_fname_hint *h;
	__u32 hkey = VIGIL_FNAME_HINT_KEY(k->type, dim);
	__u8 c;

	__builtin_memset(k->name, 0, sizeof(k->name));
	k->dim = dim;
	l = bpf_probe_read_kernel_str(k->name, sizeof(k->name), name);
	/* a name filling the key is longer than any name in a set */
	if (l <= 1 || l >= VIGIL_FNAME_MAX)
		return 0;
	/* no name of this length or first byte in the sets: absent, no key to hash */
	h = bpf_map_lookup_elem(&fname_hints, &hkey);
	c = (__u8)k->name[0];
	if (h && (!(h->len_mask & (1ULL << ((l - 1) & 63))) || !(h->first[(c >> 6) & 3] & (1ULL << (c & 63)))))
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
