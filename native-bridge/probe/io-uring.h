// SPDX-License-Identifier: Apache-2.0
/*
 * io_uring: the operations a process submits to a ring never pass the syscall tracepoints (one
 * io_uring_enter submits any number of opens, connects, reads...; with IORING_SETUP_SQPOLL not even
 * that). The io_uring tracepoint io_uring_submit_req (io_uring_submit_sqe before Linux 6.5, same
 * argument: the request; the loader retargets the program there when only the old name exists) fires
 * once per request after its prep handler ran, so the request's own command struct (io_open,
 * io_connect, io_unlink...) holds the target: the path (kernel copy), dirfd, flags and mode of an
 * open, the user address of a connect, the target fd of the rest.
 *
 * Emitted as VIGIL_EV_IO_URING_OP (FORMAT.md "io_uring_op"). The result is not known at submission
 * (res 0). Only the operations in IO_URING_OPS_REPORTED are sent: the ones that name a new target
 * (open, connect, bind, accept, unlink...); the data path (read, write, send, recv, poll, timeouts,
 * futex) stays in the kernel, as read/write syscalls stay unless a rule names them, so a database's
 * millions of reads cost one bit test each.
 * Part of probe.bpf.c, included there (one BPF object); not a standalone header.
 */

#define IORING_OP_SENDMSG_ 9
#define IORING_OP_CONNECT_ 16
#define IORING_OP_OPENAT_ 18
#define IORING_OP_OPENAT2_ 28
#define IORING_OP_RENAMEAT_ 35
#define IORING_OP_UNLINKAT_ 36
#define IORING_OP_MKDIRAT_ 37
#define IORING_SETUP_SQPOLL_ 2
#define REQ_F_FIXED_FILE_ 1
/* io_openat_prep adds O_LARGEFILE on 64-bit kernels (force_o_largefile()); the openat syscall event
 * carries the caller's flags, which never need it there: dropped so both read the same */
#if defined(__TARGET_ARCH_x86)
#define O_LARGEFILE_ 0100000
#else
#define O_LARGEFILE_ 0400000
#endif

#define IOU_BIT(op) (1ULL << (op))
/* reported: SENDMSG 9, ACCEPT 13, CONNECT 16, OPENAT 18, CLOSE 19, STATX 21, OPENAT2 28, SPLICE 30,
 * TEE 33, SHUTDOWN 34, RENAMEAT 35, UNLINKAT 36, MKDIRAT 37, SYMLINKAT 38, LINKAT 39, MSG_RING 40,
 * FSETXATTR 41, SETXATTR 42, SOCKET 45, URING_CMD 46, SENDMSG_ZC 48, FIXED_FD_INSTALL 54,
 * FTRUNCATE 55, BIND 56, LISTEN 57, PIPE 62 */
#define IO_URING_OPS_REPORTED                                                                          \
	(IOU_BIT(9) | IOU_BIT(13) | IOU_BIT(16) | IOU_BIT(18) | IOU_BIT(19) | IOU_BIT(21) | IOU_BIT(28) | \
	 IOU_BIT(30) | IOU_BIT(33) | IOU_BIT(34) | IOU_BIT(35) | IOU_BIT(36) | IOU_BIT(37) | IOU_BIT(38) | \
	 IOU_BIT(39) | IOU_BIT(40) | IOU_BIT(41) | IOU_BIT(42) | IOU_BIT(45) | IOU_BIT(46) | IOU_BIT(48) | \
	 IOU_BIT(54) | IOU_BIT(55) | IOU_BIT(56) | IOU_BIT(57) | IOU_BIT(62))
/* operations whose request carries the sqe's fd (io_issue_def.needs_file): req->cqe.fd is that fd;
 * for the others the same word is the cqe flags */
#define IO_URING_OPS_FD                                                                                \
	(IOU_BIT(1) | IOU_BIT(2) | IOU_BIT(3) | IOU_BIT(4) | IOU_BIT(5) | IOU_BIT(6) | IOU_BIT(8) |    \
	 IOU_BIT(9) | IOU_BIT(10) | IOU_BIT(13) | IOU_BIT(16) | IOU_BIT(17) | IOU_BIT(22) | IOU_BIT(23) | \
	 IOU_BIT(24) | IOU_BIT(26) | IOU_BIT(27) | IOU_BIT(29) | IOU_BIT(30) | IOU_BIT(33) | IOU_BIT(34) | \
	 IOU_BIT(41) | IOU_BIT(43) | IOU_BIT(46) | IOU_BIT(47) | IOU_BIT(48) | IOU_BIT(49) | IOU_BIT(55) | \
	 IOU_BIT(56) | IOU_BIT(57) | IOU_BIT(58) | IOU_BIT(59) | IOU_BIT(60) | IOU_BIT(61))

/* A NUL-terminated kernel string (a struct filename's name), up to STR_MAX bytes (NUL included). */
static __always_inline void put_kstr(struct ev *e, const void *p)
{
	long len;

	if (!room(e, 2 + STR_MAX))
		return;
	len = p ? bpf_probe_read_kernel_str(&e->buf[idx(e->off + 2)], STR_MAX, p) : 0;
	if (len < 0)
		len = 0;
	set_len(e, (__u16)len);
	e->off += 2 + ((__u32)len & (STR_MAX * 2 - 1));
	e->n++;
}

static __always_inline const char *fname_of(struct filename *f)
{
	return f ? BPF_CORE_READ(f, name) : NULL;
}

/*
 * The socket fd-info param of `fd` with its remote end taken from the address the request names
 * (connect, sendmsg) while the socket has none yet: at submission the connect has not run, and the
 * fd is named `local->remote` as after a connect(2).
 */
static __always_inline void put_fdinfo_dest(struct ev *e, long fd, const void *ua, __u64 ulen)
{
	__u32 start = e->off + 2;
	__u16 len, fam;
	__u8 sa[28] = {};

	put_fdinfo(e, fd);
	if (!ua || ulen < 8 || bpf_probe_read_user(sa, sizeof(sa) < ulen ? sizeof(sa) : (ulen & 31), ua) != 0)
		return;
	len = *(__u16 *)&e->buf[idx(start - 2)];
	fam = *(__u16 *)sa;
	/* prefixed socket tuple: kind, proto, family, local addr/port, remote addr/port */
	if (len == 15 && fam == VIGIL_AF_INET && e->buf[idx(start)] == VIGIL_FD_IPV4 &&
	    *(__u16 *)&e->buf[idx(start + 13)] == 0) {
		*(__u32 *)&e->buf[idx(start + 9)] = *(__u32 *)&sa[4];
		*(__u16 *)&e->buf[idx(start + 13)] = bpf_ntohs(*(__u16 *)&sa[2]);
	} else if (len == 39 && fam == VIGIL_AF_INET6 && e->buf[idx(start)] == VIGIL_FD_IPV6 &&
		   *(__u16 *)&e->buf[idx(start + 37)] == 0) {
		__builtin_memcpy(&e->buf[idx(start + 21)], &sa[8], 16);
		*(__u16 *)&e->buf[idx(start + 37)] = bpf_ntohs(*(__u16 *)&sa[2]);
	}
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(io_uring_submit, struct io_kiocb *req)
{
	struct ev e;
	__u64 rflags, bit;
	__u32 op, fixed;
	int fd = -1;
	void *cmd = req; /* io_kiocb_to_cmd(): the command struct overlays the request's first 64 bytes */

	/* a direct load: tp_btf arguments are trusted pointers (no probe-read helper call on the hot path) */
	op = req->opcode;
	if (op >= 64)
		return 0;
	bit = 1ULL << op;
	if (!(IO_URING_OPS_REPORTED & bit))
		return 0;
	if (!ev_begin(&e, VIGIL_EV_IO_URING_OP, 0))
		return 0;
	rflags = BPF_CORE_READ(req, flags);
	fixed = (rflags & REQ_F_FIXED_FILE_) ? 1 : 0;
	if (IO_URING_OPS_FD & bit)
		fd = BPF_CORE_READ(req, cqe.fd);
	put_u32(&e, op);
	if (fd >= 0)
		put_u64(&e, (__s64)fd);
	else
		put_none(&e);
	if (op == IORING_OP_OPENAT_ || op == IORING_OP_OPENAT2_) {
		struct io_open *o = cmd;

		put_u64(&e, (__s64)BPF_CORE_READ(o, dfd));
		put_kstr(&e, fname_of(BPF_CORE_READ(o, filename)));
		put_u32(&e, (__u32)BPF_CORE_READ(o, how.flags) & ~O_LARGEFILE_);
		put_u32(&e, (__u32)BPF_CORE_READ(o, how.mode));
	} else if (op == IORING_OP_UNLINKAT_ && bpf_core_type_exists(struct io_unlink)) {
		struct io_unlink *u = cmd;

		put_u64(&e, (__s64)BPF_CORE_READ(u, dfd));
		put_kstr(&e, fname_of(BPF_CORE_READ(u, filename)));
		put_none(&e);
		put_none(&e);
	} else if (op == IORING_OP_MKDIRAT_ && bpf_core_type_exists(struct io_mkdir)) {
		struct io_mkdir *m = cmd;

		put_u64(&e, (__s64)BPF_CORE_READ(m, dfd));
		put_kstr(&e, fname_of(BPF_CORE_READ(m, filename)));
		put_none(&e);
		put_u32(&e, (__u32)BPF_CORE_READ(m, mode));
	} else if (op == IORING_OP_RENAMEAT_ && bpf_core_type_exists(struct io_rename)) {
		struct io_rename *r = cmd;

		put_u64(&e, (__s64)BPF_CORE_READ(r, old_dfd));
		put_kstr(&e, fname_of(BPF_CORE_READ(r, oldpath)));
		put_none(&e);
		put_none(&e);
	} else {
		put_none(&e);
		put_none(&e);
		put_none(&e);
		put_none(&e);
	}
	{
		const void *ua = NULL;
		__u64 ulen = 0;

		if (op == IORING_OP_CONNECT_) {
			struct io_connect *c = cmd;

			ua = BPF_CORE_READ(c, addr);
			ulen = (__u64)BPF_CORE_READ(c, addr_len);
		} else if (op == IORING_OP_SENDMSG_) {
			struct io_sr_msg *s = cmd;
			struct user_msghdr mh = {};

			if (bpf_probe_read_user(&mh, sizeof(mh), BPF_CORE_READ(s, umsg)) == 0) {
				ua = mh.msg_name;
				ulen = mh.msg_namelen;
			}
		}
		put_sockaddr(&e, ua, ulen);
		put_u64(&e, BPF_CORE_READ(req, cqe.user_data));
		put_u32(&e, (BPF_CORE_READ(req, ctx, flags) & IORING_SETUP_SQPOLL_) ? 1 : 0);
		put_u32(&e, fixed);
		/* the fd info: the target file or socket (a fixed file's index names no fd of the task) */
		if (fd >= 0 && !fixed)
			put_fdinfo_dest(&e, fd, ua, ulen);
	}
	return ev_send(&e);
}
