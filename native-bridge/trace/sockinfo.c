// SPDX-License-Identifier: Apache-2.0
/*
 * Socket tuples for the tracer. First choice: duplicate the tracee's socket into the tracer with
 * pidfd_getfd(2) (Linux >= 5.6; the tracer has the ptrace access it needs) and ask it directly
 * (getsockname, getpeername, SO_DOMAIN/SO_PROTOCOL/SO_TYPE). Fallback: what /proc publishes — the
 * fd's link names the socket inode and /proc/<pid>/net/{tcp,udp,raw}{,6},unix list addresses by
 * inode. A connect that failed leaves the socket unconnected; like the kernel's own socket state
 * (which the probe reads), the remote address is then the one asked for, with port 0.
 * The result is written as the probe's write_sock() writes a tuple (FORMAT.md): family byte, then
 * local address (network order) + port (host order), remote address + port; unix: the path.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include "trace.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

struct sockinfo {
	__u8 fam; /* VIGIL_AF_* */
	__u8 proto; /* 6 tcp, 17 udp, 255 raw, 0 unix */
	__u8 la[16], ra[16];
	__u16 lp, rp;
	char path[108];
};

static unsigned long sock_inode(pid_t pid, long fd)
{
	char what[48], link[64];

	snprintf(what, sizeof(what), "fd/%ld", fd);
	if (proc_link(pid, what, link, sizeof(link)) < 0 || strncmp(link, "socket:[", 8) != 0)
		return 0;
	return strtoul(link + 8, NULL, 10);
}

/* Hex words of /proc/net/tcp6 are the address's u32s in host order: copy them as they are. */
static int parse_addr(const char *hex, int words, __u8 *out)
{
	for (int i = 0; i < words; i++) {
		char w[9];
		__u32 v;

		memcpy(w, hex + i * 8, 8);
		w[8] = 0;
		v = (__u32)strtoul(w, NULL, 16);
		memcpy(out + i * 4, &v, 4);
	}
	return 0;
}

static int scan_inet(pid_t pid, const char *file, __u8 fam, __u8 proto, unsigned long ino, struct sockinfo *si)
{
	char path[64], line[512];
	FILE *f;
	int words = fam == VIGIL_AF_INET ? 1 : 4, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char la[33], ra[33];
		unsigned lp, rp;
		unsigned long inode;

		if (sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %*x %*x:%*x %*x:%*x %*x %*u %*u %lu", la, &lp, ra, &rp, &inode) != 5)
			continue;
		if (inode != ino || strlen(la) != (size_t)words * 8 || strlen(ra) != (size_t)words * 8)
			continue;
		si->fam = fam;
		si->proto = proto;
		parse_addr(la, words, si->la);
		parse_addr(ra, words, si->ra);
		si->lp = (__u16)lp;
		si->rp = (__u16)rp;
		found = 1;
	}
	fclose(f);
	return found;
}

static int scan_unix(pid_t pid, unsigned long ino, struct sockinfo *si)
{
	char path[64], line[512];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/net/unix", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long inode;
		int off = 0;

		if (sscanf(line, "%*x: %*x %*x %*x %*x %*x %lu%n", &inode, &off) != 1 || inode != ino)
			continue;
		si->fam = VIGIL_AF_UNIX;
		si->proto = 0;
		while (line[off] == ' ')
			off++;
		snprintf(si->path, sizeof(si->path), "%s", line + off);
		si->path[strcspn(si->path, "\n")] = 0;
		found = 1;
	}
	fclose(f);
	return found;
}

static void from_sockaddr(const struct sockaddr_storage *ss, __u8 *addr, __u16 *port, char *path)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		memcpy(addr, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		memcpy(addr, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
	} else if (ss->ss_family == AF_UNIX && path && !path[0]) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;

		/* abstract names start with NUL: the probe reads them as empty */
		snprintf(path, 108, "%s", un->sun_path);
	}
}

static int no_pidfd_getfd;

/* 1 when found via pidfd_getfd, 0 when not a socket, -1 when the method is unavailable. */
static int sock_pidfd(pid_t pid, long fd, struct sockinfo *si)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int pfd, sfd, dom = 0, proto = 0, type = 0, ok = 1;

	if (no_pidfd_getfd)
		return -1;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		if (errno == ENOSYS)
			no_pidfd_getfd = 1;
		return -1;
	}
	sfd = (int)syscall(SYS_pidfd_getfd, pfd, (int)fd, 0);
	close(pfd);
	if (sfd < 0) {
		if (errno == ENOSYS)
			no_pidfd_getfd = 1;
		return errno == EBADF ? 0 : -1;
	}
	l = sizeof(dom);
	if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &dom, &l) != 0) {
		close(sfd);
		return 0;
	}
	l = sizeof(proto);
	getsockopt(sfd, SOL_SOCKET, SO_PROTOCOL, &proto, &l);
	l = sizeof(type);
	getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &l);
	if (dom == AF_INET || dom == AF_INET6)
		si->fam = dom == AF_INET ? VIGIL_AF_INET : VIGIL_AF_INET6;
	else if (dom == AF_UNIX)
		si->fam = VIGIL_AF_UNIX;
	else
		ok = 0;
	if (ok) {
		si->proto = type == SOCK_RAW ? 255 : (__u8)proto;
		if (dom == AF_UNIX)
			si->proto = 0;
		l = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getsockname(sfd, (struct sockaddr *)&ss, &l) == 0)
			from_sockaddr(&ss, si->la, &si->lp, si->path);
		l = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		if (getpeername(sfd, (struct sockaddr *)&ss, &l) == 0)
			from_sockaddr(&ss, si->ra, &si->rp, si->path);
	}
	close(sfd);
	return ok;
}

static int sock_lookup(pid_t pid, long fd, struct sockinfo *si)
{
	unsigned long ino;
	int r;

	memset(si, 0, sizeof(*si));
	r = sock_pidfd(pid, fd, si);
	if (r >= 0)
		return r;
	ino = sock_inode(pid, fd);
	if (ino == 0)
		return 0;
	return scan_inet(pid, "tcp", VIGIL_AF_INET, 6, ino, si) || scan_inet(pid, "udp", VIGIL_AF_INET, 17, ino, si) ||
	       scan_inet(pid, "tcp6", VIGIL_AF_INET6, 6, ino, si) || scan_inet(pid, "udp6", VIGIL_AF_INET6, 17, ino, si) ||
	       scan_inet(pid, "raw", VIGIL_AF_INET, 255, ino, si) || scan_inet(pid, "raw6", VIGIL_AF_INET6, 255, ino, si) ||
	       scan_unix(pid, ino, si);
}

/* Writes the tuple (prefixed: fd-info kind and protocol bytes first). 0 when written. */
static int write_tuple(struct frame *fr, const struct sockinfo *si, int prefixed)
{
	__u8 b[2 + 1 + 36 + 110];
	size_t w = 0;

	if (prefixed) {
		b[w++] = si->fam == VIGIL_AF_INET ? VIGIL_FD_IPV4 : si->fam == VIGIL_AF_INET6 ? VIGIL_FD_IPV6 : VIGIL_FD_UNIX;
		b[w++] = si->proto;
	}
	b[w++] = si->fam;
	if (si->fam == VIGIL_AF_INET) {
		memcpy(b + w, si->la, 4);
		memcpy(b + w + 4, &si->lp, 2);
		memcpy(b + w + 6, si->ra, 4);
		memcpy(b + w + 10, &si->rp, 2);
		w += 12;
	} else if (si->fam == VIGIL_AF_INET6) {
		memcpy(b + w, si->la, 16);
		memcpy(b + w + 16, &si->lp, 2);
		memcpy(b + w + 18, si->ra, 16);
		memcpy(b + w + 34, &si->rp, 2);
		w += 36;
	} else {
		size_t l = strnlen(si->path, sizeof(si->path));

		memcpy(b + w, si->path, l);
		w += l;
	}
	put_bytes(fr, b, w);
	return 0;
}

static const __u8 zero16[16];

/*
 * A socket not (yet) connected after connect returned: getpeername says nothing, but the kernel
 * keeps the address asked for, which the probe reads. In progress (EINPROGRESS): that address and
 * port. Failed: the address with port 0, and a TCP socket has also given its local port back.
 */
static void unconnected_remote(struct sockinfo *si, pid_t pid, __u64 sa_addr, __u64 sa_len, __s64 ret)
{
	struct sockaddr_storage ss;
	__u16 port = 0;

	if (!sa_addr || si->fam == VIGIL_AF_UNIX || memcmp(si->ra, zero16, 16) != 0 || si->rp != 0)
		return;
	memset(&ss, 0, sizeof(ss));
	if (sa_len > sizeof(ss))
		sa_len = sizeof(ss);
	if (mem_read(pid, sa_addr, &ss, (size_t)sa_len) <= 0)
		return;
	if (!((ss.ss_family == AF_INET && si->fam == VIGIL_AF_INET) || (ss.ss_family == AF_INET6 && si->fam == VIGIL_AF_INET6)))
		return;
	from_sockaddr(&ss, si->ra, &port, NULL);
	if (ret == -EINPROGRESS || ret >= 0) {
		si->rp = port;
	} else if (si->proto == 6) {
		si->lp = 0;
	}
}

void put_tuple(struct frame *fr, pid_t pid, long fd)
{
	put_tuple_sa(fr, pid, fd, 0, 0, 0);
}

void put_tuple_sa(struct frame *fr, pid_t pid, long fd, __u64 sa_addr, __u64 sa_len, __s64 ret)
{
	struct sockinfo si;

	if (fd < 0 || !sock_lookup(pid, fd, &si)) {
		put_none(fr);
		return;
	}
	unconnected_remote(&si, pid, sa_addr, sa_len, ret);
	write_tuple(fr, &si, 0);
}

void put_sock_fdinfo(struct frame *fr, pid_t pid, long fd)
{
	put_sock_fdinfo_sa(fr, pid, fd, 0, 0, 0);
}

void put_sock_fdinfo_sa(struct frame *fr, pid_t pid, long fd, __u64 sa_addr, __u64 sa_len, __s64 ret)
{
	struct sockinfo si;

	if (fd < 0 || !sock_lookup(pid, fd, &si)) {
		put_none(fr);
		return;
	}
	unconnected_remote(&si, pid, sa_addr, sa_len, ret);
	write_tuple(fr, &si, 1);
}
