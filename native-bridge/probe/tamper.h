/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File metadata tampering (issue 19, class 3): the calls whose params include a value behind a
 * user pointer that rules need, so the generic exit program (one syscall argument per param)
 * cannot read them. Included by probe.bpf.c; the params are in rules/event-table.ts (the rows
 * marked TAMPER_PROG), in the same order as written here.
 *
 * - utimensat, futimesat, utimes, utime: the times set (atime, mtime), each in nanoseconds since
 *   the epoch, or absent when the call sets "now" (times NULL, UTIME_NOW) or leaves it (UTIME_OMIT).
 *   An explicit time is what timestomping (touch -d / -r) looks like. utimensat and futimesat with
 *   a NULL path change the file behind the dirfd (futimens): their fd-info param names it.
 * - ioctl: only the requests rules look at are sent, the inode-flag changes FS_IOC_SETFLAGS
 *   (chattr) and FS_IOC_FSSETXATTR, with the flags set (fsflags), and TIOCSTI (faking terminal
 *   input); every other request returns after one compare, before the frame and its fd-info path
 *   walk (as fcntl keeps only its dup forms): ioctl is frequent (terminals, devices, sockets),
 *   and sending each cost about 1 us of the caller's CPU time.
 */
#define UTIME_NOW_ ((1L << 30) - 1)
#define UTIME_OMIT_ ((1L << 30) - 2)
#define FS_IOC_SETFLAGS_ 0x40086602u /* _IOW('f', 2, long) */
#define FS_IOC32_SETFLAGS_ 0x40046602u /* _IOW('f', 2, int) */
#define FS_IOC_FSSETXATTR_ 0x401c5820u /* _IOW('X', 32, struct fsxattr) */
#define TIOCSTI_ 0x5412u
#define FS_XFLAG_IMMUTABLE_ 0x8u
#define FS_XFLAG_APPEND_ 0x10u
#define FS_XFLAG_SYNC_ 0x20u
#define FS_XFLAG_NOATIME_ 0x40u
#define FS_XFLAG_NODUMP_ 0x80u

/* two {seconds, sub-seconds} pairs: timespec[2] (nsec), timeval[2] (usec) or utimbuf (no sub-seconds) */
struct tamper_times {
	__s64 v[4];
};

/*
 * Puts atime and mtime from the struct at user address up. unit: nanoseconds per sub-second unit
 * (1: timespec, 1000: timeval); 0: utimbuf, two plain seconds.
 */
static __always_inline void put_times(struct ev *e, const void *up, __u32 unit)
{
	struct tamper_times t = {};
	__u32 size = unit == 0 ? 2 * sizeof(__s64) : sizeof(t);

	if (up == NULL || bpf_probe_read_user(&t, size, up) != 0) {
		put_none(e);
		put_none(e);
		return;
	}
	for (int i = 0; i < 2; i++) {
		__s64 sec = unit == 0 ? t.v[i] : t.v[2 * i];
		__s64 sub = unit == 0 ? 0 : t.v[2 * i + 1];

		if (unit == 1 && (sub == UTIME_NOW_ || sub == UTIME_OMIT_))
			put_none(e);
		else
			put_u64(e, (__u64)(sec * 1000000000LL + sub * (__s64)unit));
	}
}

/* the fd-info of dirfd when the call names no path (futimens), else absent */
static __always_inline void put_times_fd(struct ev *e, int dirfd, const void *path)
{
	if (path == NULL)
		put_fdinfo(e, dirfd);
	else
		put_none(e);
}

EXIT_PROG(utimensat)
{
	void *path;

	BEGIN(VIGIL_EV_UTIMENSAT);
	path = (void *)arg(&e, 1);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, path);
	put_u32(&e, (__u32)arg(&e, 3));
	put_times(&e, (void *)arg(&e, 2), 1);
	put_times_fd(&e, (int)arg(&e, 0), path);
	return ev_send(&e);
}

EXIT_PROG(futimesat)
{
	void *path;

	BEGIN(VIGIL_EV_FUTIMESAT);
	path = (void *)arg(&e, 1);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, path);
	put_times(&e, (void *)arg(&e, 2), 1000);
	put_times_fd(&e, (int)arg(&e, 0), path);
	return ev_send(&e);
}

EXIT_PROG(utimes)
{
	BEGIN(VIGIL_EV_UTIMES);
	put_ustr(&e, (void *)arg(&e, 0));
	put_times(&e, (void *)arg(&e, 1), 1000);
	return ev_send(&e);
}

EXIT_PROG(utime)
{
	BEGIN(VIGIL_EV_UTIME);
	put_ustr(&e, (void *)arg(&e, 0));
	put_times(&e, (void *)arg(&e, 1), 0);
	return ev_send(&e);
}

EXIT_PROG(ioctl)
{
	struct pt_regs *r = cur_regs();
	__u32 req = (__u32)PT_REGS_PARM2_CORE_SYSCALL(r), v = 0;
	int fd;

	if (req != FS_IOC_SETFLAGS_ && req != FS_IOC32_SETFLAGS_ && req != FS_IOC_FSSETXATTR_ && req != TIOCSTI_)
		return 0;
	BEGIN(VIGIL_EV_IOCTL);
	fd = (int)arg(&e, 0);
	put_u64(&e, (__s64)fd);
	put_u64(&e, arg(&e, 1));
	put_u64(&e, arg(&e, 2));
	if (req == FS_IOC_SETFLAGS_ || req == FS_IOC32_SETFLAGS_) {
		/* the kernel reads an int for both forms */
		if (bpf_probe_read_user(&v, sizeof(v), (void *)arg(&e, 2)) == 0)
			put_u32(&e, v);
		else
			put_none(&e);
	} else if (req == FS_IOC_FSSETXATTR_) {
		/* struct fsxattr starts with fsx_xflags: its flags that have an inode-flag twin, as those */
		if (bpf_probe_read_user(&v, sizeof(v), (void *)arg(&e, 2)) == 0)
			put_u32(&e, ((v & FS_XFLAG_IMMUTABLE_) ? 0x10u : 0) | ((v & FS_XFLAG_APPEND_) ? 0x20u : 0) |
					    ((v & FS_XFLAG_SYNC_) ? 0x8u : 0) | ((v & FS_XFLAG_NOATIME_) ? 0x80u : 0) |
					    ((v & FS_XFLAG_NODUMP_) ? 0x40u : 0));
		else
			put_none(&e);
	} else {
		put_none(&e);
	}
	put_fdinfo(&e, fd);
	return ev_send(&e);
}
