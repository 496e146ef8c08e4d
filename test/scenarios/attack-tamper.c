// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-attack modes of file metadata tampering (issue 19, class 3), included by attack.c:
 * timestomping through each call of the utime family, inode flags (chattr's FS_IOC_SETFLAGS and
 * xfs_io's FS_IOC_FSSETXATTR), setuid through fchmodat2, and extended attributes / file
 * capabilities through each call of the setxattr family. All real syscalls, no libc wrappers
 * where libc might pick another call.
 */
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>

/* 2019-03-14 09:26:53 UTC: an old, plausible-looking date, as timestomping tools pick */
#define TAMPER_TIME 1552555613

/* utime CALL PATH: set atime and mtime of PATH to TAMPER_TIME with CALL */
static int mode_utime(const char *call, const char *path)
{
	struct timespec ts[2] = { { TAMPER_TIME, 0 }, { TAMPER_TIME, 0 } };
	struct timeval tv[2] = { { TAMPER_TIME, 0 }, { TAMPER_TIME, 0 } };
	long r;

	if (!strcmp(call, "utimensat")) {
		r = syscall(SYS_utimensat, AT_FDCWD, path, ts, 0);
	} else if (!strcmp(call, "futimens")) {
		/* utimensat(fd, NULL, times): the file is named by the fd only */
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return 2;
		r = syscall(SYS_utimensat, fd, NULL, ts, 0);
		close(fd);
	} else if (!strcmp(call, "mtime-only")) {
		/* touch -m -d: atime left alone (UTIME_OMIT), mtime set */
		ts[0].tv_nsec = UTIME_OMIT;
		r = syscall(SYS_utimensat, AT_FDCWD, path, ts, 0);
	} else if (!strcmp(call, "futimesat")) {
		r = syscall(SYS_futimesat, AT_FDCWD, path, tv);
	} else if (!strcmp(call, "utimes")) {
		r = syscall(SYS_utimes, path, tv);
	} else if (!strcmp(call, "now")) {
		/* a plain touch: times NULL, not timestomping */
		r = syscall(SYS_utimensat, AT_FDCWD, path, NULL, 0);
	} else {
		return 64;
	}
	return r == 0 ? 0 : 1;
}

/* chattr FLAGS PATH: +i, +a, -i, -a through FS_IOC_GETFLAGS / FS_IOC_SETFLAGS, as chattr(1) does */
static int mode_chattr(const char *flags, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK), f = 0, bit;

	if (fd < 0 || (flags[0] != '+' && flags[0] != '-'))
		return 2;
	bit = flags[1] == 'i' ? FS_IMMUTABLE_FL : flags[1] == 'a' ? FS_APPEND_FL : 0;
	if (bit == 0)
		return 64;
	if (ioctl(fd, FS_IOC_GETFLAGS, &f) < 0)
		f = 0;
	f = flags[0] == '+' ? f | bit : f & ~bit;
	bit = ioctl(fd, FS_IOC_SETFLAGS, &f);
	close(fd);
	return bit == 0 ? 0 : 1;
}

/* fsxattr FLAGS PATH: the same through FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR (xfs_io chattr) */
static int mode_fsxattr(const char *flags, const char *path)
{
	struct fsxattr x = { 0 };
	int fd = open(path, O_RDONLY | O_NONBLOCK), bit, r;

	if (fd < 0 || (flags[0] != '+' && flags[0] != '-'))
		return 2;
	bit = flags[1] == 'i' ? FS_XFLAG_IMMUTABLE : flags[1] == 'a' ? FS_XFLAG_APPEND : 0;
	if (bit == 0)
		return 64;
	ioctl(fd, FS_IOC_FSGETXATTR, &x);
	x.fsx_xflags = flags[0] == '+' ? x.fsx_xflags | bit : x.fsx_xflags & ~bit;
	r = ioctl(fd, FS_IOC_FSSETXATTR, &x);
	close(fd);
	return r == 0 ? 0 : 1;
}

/* fchmodat2 MODE PATH: chmod through fchmodat2(2) (Linux 6.6), octal MODE */
static int mode_fchmodat2(const char *mode, const char *path)
{
	return syscall(452 /* fchmodat2 */, AT_FDCWD, path, (unsigned)strtoul(mode, NULL, 8), 0) == 0 ? 0 : 1;
}

/* sets NAME=VALUE on PATH with CALL (setxattr, lsetxattr, fsetxattr) */
static int set_xattr(const char *call, const char *path, const char *name, const void *value, size_t size)
{
	long r;

	if (!strcmp(call, "setxattr")) {
		r = syscall(SYS_setxattr, path, name, value, size, 0);
	} else if (!strcmp(call, "lsetxattr")) {
		r = syscall(SYS_lsetxattr, path, name, value, size, 0);
	} else if (!strcmp(call, "fsetxattr")) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return 2;
		r = syscall(SYS_fsetxattr, fd, name, value, size, 0);
		close(fd);
	} else {
		return 64;
	}
	return r == 0 ? 0 : 1;
}

/* setcap CALL PATH: file capabilities cap_setuid,cap_setgid+ep (a vfs_cap_data, revision 2), as setcap(8) writes */
static int mode_setcap(const char *call, const char *path)
{
	struct vfs_cap_data d = { 0 };

	d.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	d.data[0].permitted = (1u << CAP_SETUID) | (1u << CAP_SETGID);
	return set_xattr(call, path, "security.capability", &d, XATTR_CAPS_SZ_2);
}

/* xattr CALL PATH NAME VALUE: any other extended attribute */
static int mode_xattr(const char *call, const char *path, const char *name, const char *value)
{
	return set_xattr(call, path, name, value, strlen(value));
}
