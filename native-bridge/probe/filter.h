// SPDX-License-Identifier: Apache-2.0
/* Pushed-down open-family filters (FORMAT.md "Kernel filters").
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

/*
 * One bpf_probe_read_kernel per struct instead of one per field (each helper call costs ≈ 30-40 ns
 * on the opens the filter drops): the fields the name check needs are adjacent in every kernel
 * the probe targets (struct mount: mnt_parent, mnt_mountpoint, mnt.mnt_root; struct dentry:
 * d_parent, d_name.hash_len, d_name.name), which the relocated offsets confirm at load time; a
 * kernel laid out otherwise takes the field-by-field reads (the verifier drops the other branch).
 */
struct mnt_head {
	struct mount *parent;
	struct dentry *mountpoint;
	struct dentry *root; /* mnt.mnt_root */
};

static __always_inline void read_mnt_head(struct mount *m, struct mnt_head *h)
{
	__u32 o = bpf_core_field_offset(struct mount, mnt_parent);

	if (bpf_core_field_offset(struct mount, mnt_mountpoint) == o + 8 &&
	    bpf_core_field_offset(struct mount, mnt) + bpf_core_field_offset(struct vfsmount, mnt_root) == o + 16) {
		if (bpf_probe_read_kernel(h, sizeof(*h), (char *)m + o))
			__builtin_memset(h, 0, sizeof(*h));
		return;
	}
	h->parent = BPF_CORE_READ(m, mnt_parent);
	h->mountpoint = BPF_CORE_READ(m, mnt_mountpoint);
	h->root = BPF_CORE_READ(m, mnt.mnt_root);
}

/* The inline name store of a dentry: d_shortname since 6.14, d_iname before. */
struct dentry___short {
	union {
		unsigned char string[40];
	} d_shortname;
} __attribute__((preserve_access_index));
struct dentry___iname {
	unsigned char d_iname[32];
} __attribute__((preserve_access_index));

#define DENT_WIN 72

/* d_parent, d_name (hash, length, name pointer), then d_inode and the inline name store, read as
 * one window; a short name (the common case) is then in the window, no second read. */
struct dent_head {
	struct dentry *parent;
	__u64 hash_len; /* d_name: hash, then length (qstr.len at offset 4, checked below): the high half on x86 and arm64 (little endian) */
	const unsigned char *name;
	__u8 rest[DENT_WIN - 24];
};

static __always_inline __u32 dent_len(struct dent_head *h)
{
	return (__u32)(h->hash_len >> 32);
}

static __always_inline __u32 dent_inline_off(void)
{
	if (bpf_core_field_exists(struct dentry___short, d_shortname))
		return bpf_core_field_offset(struct dentry___short, d_shortname);
	return bpf_core_field_offset(struct dentry___iname, d_iname);
}

/* The window offset of the inline name when the dentry's name is stored inline and fits the
 * window, else 0 (read the name through its pointer). */
static __always_inline __u32 dent_inline(struct dentry *d, struct dent_head *h)
{
	__u32 o = bpf_core_field_offset(struct dentry, d_parent), io = dent_inline_off() - o;

	if (io < 24 || io > 32 || h->name != (const unsigned char *)d + o + io || dent_len(h) >= DENT_WIN - io)
		return 0;
	return io;
}

static __always_inline void read_dent_head(struct dentry *d, struct dent_head *h)
{
	__u32 o = bpf_core_field_offset(struct dentry, d_parent);

	if (bpf_core_field_offset(struct dentry, d_name) == o + 8 && bpf_core_field_offset(struct qstr, name) == 8 &&
	    bpf_core_field_offset(struct qstr, len) == 4) {
		if (bpf_probe_read_kernel(h, sizeof(*h), (char *)d + o))
			__builtin_memset(h, 0, sizeof(*h));
		return;
	}
	h->parent = BPF_CORE_READ(d, d_parent);
	h->hash_len = (__u64)BPF_CORE_READ(d, d_name.len) << 32;
	h->name = BPF_CORE_READ(d, d_name.name);
}

/*
 * Steps from dentry `*d` of mount `*m` (header `*mh`, read on first use: mh->root == NULL) to the
 * dentry that names it in the task's view: across mount roots to their mountpoints, as the path
 * walk does. Returns 0 when `*d` is the task's root or the global root (no name), -1 when mounts
 * are stacked deeper than we follow.
 */
static __always_inline int named_dentry(struct dentry **d, struct mount **m, struct mnt_head *mh,
					struct dentry *root_d, struct vfsmount *root_m)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		struct vfsmount *vm = (struct vfsmount *)((char *)*m + bpf_core_field_offset(struct mount, mnt));
		struct mount *pm;

		if (*d == root_d && vm == root_m)
			return 0;
		if (!mh->root)
			read_mnt_head(*m, mh);
		if (*d != mh->root)
			return 1;
		pm = mh->parent;
		if (!pm || pm == *m)
			return 0;
		*d = mh->mountpoint;
		*m = pm;
		mh->root = NULL;
	}
	return -1;
}

/* Bits of word i (bytes 4i..4i+3) of a name of `len` bytes: branch-free, so the verifier walks
 * one path. */
static __always_inline __u32 name_word_mask(__u32 len, int i)
{
	__s64 r = (__s64)len - 4 * i;

	r &= ~(r >> 63); /* max(r, 0) */
	r -= (r - 4) & ~((r - 4) >> 63); /* min(r, 4) */
	return (__u32)((1ULL << (r * 8)) - 1);
}

/*
 * Clause bits of the name of dentry `d` (window `dh`) in dimension `dim`; 0 when not in any set.
 * The length (from the dentry's qstr: is a name of that length in the set of a clause still alive,
 * `want`?) and then the first byte are checked against the set's hints before the 64-byte key is
 * built and hashed; a name stored inline is taken from the window, a
 * longer one read through its pointer.
 */
static __always_inline __u32 kname_bits(struct vigil_fname_key *k, __u8 dim, struct dentry *d, struct dent_head *dh,
				       __u32 want)
{
	struct vigil_fname_hint *h;
	__u32 hkey = VIGIL_FNAME_HINT_KEY(k->type, dim), *bits, len = dent_len(dh), io;
	const __u8 *w = (const __u8 *)dh;
	__u8 c;

	/* a name filling the key is longer than any name in a set */
	if (len == 0 || len >= VIGIL_FNAME_MAX - 1 || !dh->name)
		return 0;
	h = bpf_map_lookup_elem(&fname_hints, &hkey);
	/* no name of this length in the sets of the clauses still alive (`want`) */
	if (h && !(h->len_clauses[len & 63] & want))
		return 0;
	__builtin_memset(k->name, 0, sizeof(k->name));
	k->dim = dim;
	io = dent_inline(d, dh);
	if (io) {
		/* the first byte before copying the rest */
		c = w[io];
		if (h && !(h->first[(c >> 6) & 3] & (1ULL << (c & 63))))
			return 0;
		if (len <= 16) {
			/* four words, each masked to the name's bytes (the store past its NUL is stale) */
#pragma unroll
			for (int i = 0; i < 4; i++)
				*(__u32 *)&k->name[4 * i] = *(const __u32 *)&w[io + 4 * i] & name_word_mask(len, i);
		} else if (bpf_probe_read_kernel(k->name, len & 63, dh->name)) {
			return 0;
		}
	} else {
		if (bpf_probe_read_kernel(k->name, len & 63, dh->name))
			return 0;
		c = (__u8)k->name[0];
		if (h && !(h->first[(c >> 6) & 3] & (1ULL << (c & 63))))
			return 0;
	}
	bits = bpf_map_lookup_elem(&filter_names, k);
	return bits ? *bits : 0;
}

#define NAMES_UNKNOWN 0xffffffffU

/* The file at descriptor `fd` of task `t`: the fd table through direct loads (the task pointer is
 * BTF-typed), the file pointer itself with one probe read. */
static __always_inline struct file *filter_fd_file(struct task_struct *t, long fd)
{
	struct fdtable *fdt;
	struct file *f = NULL;

	if (fd < 0)
		return NULL;
	fdt = t->files->fdt;
	if ((__u64)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd & 0xfffff]);
	return f;
}

/*
 * Clause bits of the file opened at `fd`, named as the path walk (put_dentry_path) names it:
 * leaf-set bits in 0-7, parent-set bits in 8-15. A file at the root has no leaf (or parent)
 * name, so no bit. NAMES_UNKNOWN when the file cannot be looked at (every clause passes).
 * Only the clauses of `live` are looked at: the leaf for those needing it, then the parent for
 * those needing it that are still alive after the leaf check.
 */
static __noinline __u32 file_name_bits(struct vigil_filter *flt, long fd, __u32 type, __u32 live)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	__u32 need_leaf = flt->need_mask[1], need_par = flt->need_mask[2];
	struct vigil_fname_key *k;
	struct file *f = filter_fd_file(t, fd);
	struct path fp = {};
	struct dentry *d, *p, *root_d;
	struct vfsmount *root_m;
	struct mnt_head mh = {};
	struct dent_head dh;
	struct mount *m;
	__u32 leafb = 0, parb = 0;
	int r;

	struct scratch *s;
	__u32 cpu;

	if (!f || bpf_probe_read_kernel(&fp, sizeof(fp), (char *)f + bpf_core_field_offset(struct file, f_path)))
		return NAMES_UNKNOWN;
	/* the key in the scratch buffer, past the path argument's room: the frame stays small enough
	 * for the open programs' call chain (512 bytes of stack in all) */
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&scratch_map, &cpu);
	if (!s)
		return NAMES_UNKNOWN;
	k = (struct vigil_fname_key *)&s->buf[VIGIL_MAX_EVENT + STR_MAX];
	k->type = (__u16)type;
	d = fp.dentry;
	m = container_of(fp.mnt, struct mount, mnt);
	root_d = t->fs->root.dentry;
	root_m = t->fs->root.mnt;
	r = named_dentry(&d, &m, &mh, root_d, root_m);
	if (r < 0)
		return NAMES_UNKNOWN;
	if (r == 0)
		return 0;
	read_dent_head(d, &dh);
	if (live & need_leaf) {
		leafb = kname_bits(k, VIGIL_DIM_LEAF, d, &dh, live & need_leaf);
		/* the clauses needing the parent all died on their leaf: no need to look further */
		live &= ~need_leaf | (leafb & 0xff);
		if (!(live & need_par))
			return leafb & 0xff;
	}
	if (live & need_par) {
		p = dh.parent;
		r = p == d ? 0 : named_dentry(&p, &m, &mh, root_d, root_m);
		if (r < 0)
			return NAMES_UNKNOWN;
		if (r > 0) {
			read_dent_head(p, &dh);
			parb = kname_bits(k, VIGIL_DIM_PARENT, p, &dh, live & need_par);
		}
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

#define ARG_SHORT 64

/* "../" in the n (< ARG_SHORT - 1) bytes of a NUL-terminated argument: a bounded loop of n turns,
 * no helper call (the bpf_loop scan below costs a callback per byte). */
static __always_inline int has_dotdot_short(const __u8 *s, __u32 n)
{
	for (__u32 i = 0; i < ARG_SHORT - 2 && i < n; i++)
		if (s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '/')
			return 1;
	return 0;
}

/*
 * The argument clauses (`../`, the argument in a set, its first component in a set) of `live`:
 * the clause bits that survive, or NAMES_UNKNOWN when the argument cannot be read (no proof: the
 * event passes). The argument is read once into the scratch buffer; one shorter than ARG_SHORT is
 * scanned by a plain bounded loop, a longer one (or a first-component clause) by bpf_loop.
 */
static __always_inline __u32 arg_clauses(struct vigil_filter *f, __u32 type, __u32 live, __u64 upath)
{
	/* one key for both argument sets (a small frame); the slack takes a read masked to 63 bytes */
	struct {
		struct vigil_fname_key k;
		__u8 slack[8];
	} kk = { .k = { .type = (__u16)type } };
	struct vigil_fname_key *kp = &kk.k;
	struct scratch *s;
	__u32 cpu;
	long l;

	if (!upath)
		return NAMES_UNKNOWN;
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&scratch_map, &cpu);
	if (!s)
		return NAMES_UNKNOWN;
	l = bpf_probe_read_user_str(&s->buf[VIGIL_MAX_EVENT], STR_MAX, (const void *)upath);
	if (l < 1)
		return NAMES_UNKNOWN; /* unreadable argument: no proof */
	if (l < ARG_SHORT && !(live & f->need_mask[4])) {
		if ((live & f->need_mask[0]) && !has_dotdot_short(&s->buf[VIGIL_MAX_EVENT], (__u32)l - 1))
			live &= ~(__u32)f->need_mask[0];
	} else if (live & (f->need_mask[0] | f->need_mask[4])) {
		struct ddctx dc = { .s = &s->buf[VIGIL_MAX_EVENT], .len = (__u32)l - 1,
				    .want_dd = (live & f->need_mask[0]) != 0 };

		bpf_loop(STR_MAX, scan_cb, &dc, 0);
		if (!dc.found)
			live &= ~(__u32)f->need_mask[0];
		if (live & f->need_mask[4]) {
			__u32 n = dc.top_end - 1, *bits = NULL;

			kp->dim = VIGIL_DIM_RAWTOP;
			/* "/name/...": name is 1..59 bytes */
			if (dc.top_end > 1 && n < VIGIL_FNAME_MAX - 1) {
				bpf_probe_read_kernel(kp->name, n & 63, &s->buf[VIGIL_MAX_EVENT + 1]);
				bits = bpf_map_lookup_elem(&filter_names, kp);
			}
			live &= ~(__u32)f->need_mask[4] | (bits ? *bits : 0);
		}
	}
	if (live & f->need_mask[3]) {
		__u32 *bits = NULL;

		__builtin_memset(kp->name, 0, sizeof(kp->name));
		kp->dim = VIGIL_DIM_RAW;
		/* a longer argument is longer than any name in a set */
		if (l < VIGIL_FNAME_MAX && bpf_probe_read_user_str(kp->name, sizeof(kp->name), (const void *)upath) == l)
			bits = bpf_map_lookup_elem(&filter_names, kp);
		live &= ~(__u32)f->need_mask[3] | (bits ? *bits : 0);
	}
	return live;
}

/*
 * The pushed-down predicate of an open-family event: 1 to send it, 0 to drop it (counted).
 * Cheapest checks first: result, access mode and flags (clause bit masks, no read), then the path
 * argument (one user read), then the opened file's names (the fd table, the file, its dentries
 * and mount); each stage only for the clauses still alive that need it, and a clause left alive
 * with nothing more to check passes the event at once. A global function: the verifier checks it
 * once, not inside every program that calls it.
 */
__noinline int open_wanted(__u32 type, long ret, __u32 flags, __u64 upath)
{
	struct vigil_filter *f = bpf_map_lookup_elem(&filters, &type);
	struct counters *cnt;
	__u32 live, zero = 0, names;

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
	names = f->need_mask[1] | f->need_mask[2];
	if (live & (f->need_mask[0] | f->need_mask[3] | f->need_mask[4])) {
		live = arg_clauses(f, type, live, upath);
		if (live == NAMES_UNKNOWN)
			return 1;
		/* alive and needing no name: every check of the clause is done */
		if (live & ~names)
			return 1;
	}
	if (live && ret >= 0 && (live & names)) {
		__u32 b = file_name_bits(f, ret, type, live);

		if (b != NAMES_UNKNOWN)
			live &= (~(__u32)f->need_mask[1] | (b & 0xff)) & (~(__u32)f->need_mask[2] | (b >> 8));
	}
	if (live)
		return 1;
	cnt = bpf_map_lookup_elem(&counters, &zero);
	if (cnt)
		cnt->filtered++;
	return 0;
}
