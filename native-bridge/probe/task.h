// SPDX-License-Identifier: Apache-2.0
/* Task facts read in the kernel: pid-namespace numbers, exe flags (overlay upper layer, memfd, writable), tty, capabilities, the process block, fd info and socket tuples.
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

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

/*
 * The socket's tuple with its remote end taken from the destination the call names (sendto's
 * dest_addr, sendmsg's msg_name) when the socket has none itself (an unconnected datagram
 * socket), as Falco builds the tuple of such a send.
 */
static __always_inline void put_tuple_dest(struct ev *e, long fd, const void *ua, __u64 ulen)
{
	__u32 start = e->off + 2;
	__u16 len, fam;
	__u8 sa[28] = {};

	put_tuple(e, fd);
	if (!ua || ulen < 8 || bpf_probe_read_user(sa, sizeof(sa) < ulen ? sizeof(sa) : (ulen & 31), ua) != 0)
		return;
	len = *(__u16 *)&e->buf[idx(start - 2)];
	fam = *(__u16 *)sa;
	if (len == 13 && fam == VIGIL_AF_INET && e->buf[idx(start)] == VIGIL_AF_INET &&
	    *(__u16 *)&e->buf[idx(start + 11)] == 0) {
		*(__u32 *)&e->buf[idx(start + 7)] = *(__u32 *)&sa[4];
		*(__u16 *)&e->buf[idx(start + 11)] = bpf_ntohs(*(__u16 *)&sa[2]);
	} else if (len == 37 && fam == VIGIL_AF_INET6 && e->buf[idx(start)] == VIGIL_AF_INET6 &&
		   *(__u16 *)&e->buf[idx(start + 35)] == 0) {
		__builtin_memcpy(&e->buf[idx(start + 19)], &sa[8], 16);
		*(__u16 *)&e->buf[idx(start + 35)] = bpf_ntohs(*(__u16 *)&sa[2]);
	}
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
