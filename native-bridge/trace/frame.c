// SPDX-License-Identifier: Apache-2.0
/*
 * Frame building, param for param as the kernel probe writes them (../events.h, ../FORMAT.md):
 * an 88-byte header, then params as `__u16 len` + bytes; len 0 = missing. A param that does not
 * fit is dropped and the frame is flagged VIGIL_F_TRUNCATED, like the probe does.
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include "trace.h"

#define STR_MAX 4096

_Static_assert(sizeof(struct vigil_hdr) == VIGIL_HDR_SIZE, "header size");

/* Counts frames begun: caches below are valid within one frame only. */
static __u64 frame_seq;

void frame_begin(struct frame *fr, __u16 type, pid_t pid, pid_t tid, const struct procfacts *pf, __s64 res)
{
	struct vigil_hdr *h = (struct vigil_hdr *)fr->buf;

	frame_seq++;
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->version = VIGIL_WIRE_VERSION;
	h->ts = boottime_ns();
	h->pid = (__u32)pid;
	h->tid = (__u32)tid;
	if (pf) {
		h->ppid = pf->ppid;
		h->uid = pf->uid;
		h->gid = pf->gid;
		h->euid = pf->euid;
		h->loginuid = pf->loginuid;
		h->cgroup_id = pf->cgroup_id;
		h->start_ts = pf->start_ts;
		memcpy(h->comm, pf->comm, sizeof(h->comm));
	} else {
		h->loginuid = 0xffffffffu;
	}
	h->res = res;
	fr->off = VIGIL_HDR_SIZE;
	fr->n = 0;
	fr->flags = 0;
}

void frame_end(struct frame *fr)
{
	struct vigil_hdr *h = (struct vigil_hdr *)fr->buf;

	h->size = fr->off;
	h->flags = fr->flags;
	h->nparams = fr->n;
}

static int room(struct frame *fr, size_t need)
{
	if (fr->off + need > VIGIL_MAX_EVENT) {
		fr->flags |= VIGIL_F_TRUNCATED;
		return 0;
	}
	return 1;
}

void put_bytes(struct frame *fr, const void *p, size_t len)
{
	__u16 l;

	if (len > STR_MAX)
		len = STR_MAX;
	if (!room(fr, 2 + len))
		return;
	l = (__u16)len;
	memcpy(fr->buf + fr->off, &l, 2);
	if (len)
		memcpy(fr->buf + fr->off + 2, p, len);
	fr->off += 2 + (__u32)len;
	fr->n++;
}

void put_none(struct frame *fr)
{
	put_bytes(fr, NULL, 0);
}

void put_u32(struct frame *fr, __u32 v)
{
	put_bytes(fr, &v, 4);
}

void put_u64(struct frame *fr, __u64 v)
{
	put_bytes(fr, &v, 8);
}

void put_ustr(struct frame *fr, pid_t pid, __u64 addr)
{
	char buf[STR_MAX];
	ssize_t n = mem_str(pid, addr, buf, sizeof(buf));

	if (n <= 0)
		put_none(fr);
	else
		put_bytes(fr, buf, (size_t)n);
}

void put_ubytes(struct frame *fr, pid_t pid, __u64 addr, __u64 len, size_t max)
{
	char buf[STR_MAX];
	ssize_t n;

	if (len > max)
		len = max;
	n = len ? mem_read(pid, addr, buf, (size_t)len) : 0;
	put_bytes(fr, buf, n > 0 ? (size_t)n : 0);
}

/* One stat per (pid, fd, frame): dev/ino and fd info of the same fd share it. */
static struct {
	pid_t pid;
	long fd;
	__u64 seq;
	int ok;
	struct stat sb;
} last;

static int fd_stat(struct frame *fr, pid_t pid, long fd, struct stat *out)
{
	char path[64];

	if (last.seq == frame_seq && last.pid == pid && last.fd == fd) {
		*out = last.sb;
		return last.ok;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%ld", (int)pid, fd);
	last.ok = stat(path, &last.sb);
	last.pid = pid;
	last.fd = fd;
	last.seq = frame_seq;
	*out = last.sb;
	return last.ok;
}

/* The kernel's internal dev_t (MINORBITS 20), as the probe reads i_sb->s_dev. */
static __u32 kdev(dev_t d)
{
	return (__u32)((major(d) << 20) | minor(d));
}

void put_dev_ino(struct frame *fr, pid_t pid, long fd)
{
	struct stat sb;

	if (fd < 0 || fd_stat(fr, pid, fd, &sb) != 0) {
		put_none(fr);
		put_none(fr);
		return;
	}
	put_u32(fr, kdev(sb.st_dev));
	put_u64(fr, (__u64)sb.st_ino);
}

/* fd info: kind byte, aux byte (overlay layer: 1 upper, 2 lower), then the path with its NUL. */
void put_fdinfo(struct frame *fr, pid_t pid, long fd)
{
	char what[48], buf[2 + STR_MAX];
	struct stat sb;
	ssize_t n;
	__u8 kind;

	if (fd < 0) {
		put_none(fr);
		return;
	}
	snprintf(what, sizeof(what), "fd/%ld", fd);
	n = proc_link(pid, what, buf + 2, sizeof(buf) - 2);
	if (n < 0 || fd_stat(fr, pid, fd, &sb) != 0) {
		put_none(fr);
		return;
	}
	switch (sb.st_mode & S_IFMT) {
	case S_IFREG:
		kind = VIGIL_FD_FILE;
		break;
	case S_IFDIR:
		kind = VIGIL_FD_DIR;
		break;
	case S_IFIFO:
		kind = VIGIL_FD_PIPE;
		break;
	case S_IFCHR:
		kind = VIGIL_FD_CHAR;
		break;
	case S_IFBLK:
		kind = VIGIL_FD_BLOCK;
		break;
	case S_IFSOCK:
		put_sock_fdinfo(fr, pid, fd);
		return;
	default:
		kind = VIGIL_FD_ANON;
	}
	if (kind == VIGIL_FD_FILE && strncmp(buf + 2, "/memfd:", 7) == 0)
		kind = VIGIL_FD_MEMFD;
	buf[0] = (char)kind;
	buf[1] = 0;
	{
		char link[64];
		int layer;

		snprintf(link, sizeof(link), "/proc/%d/fd/%ld", (int)pid, fd);
		layer = overlay_layer(link, &sb);
		if (layer == 1)
			buf[1] = 1;
		else if (layer == 0)
			buf[1] = 2;
	}
	put_bytes(fr, buf, 2 + (size_t)n + 1);
}

/* A user sockaddr: family byte, then addr + port (host order) for INET/INET6, or the unix path. */
void put_sockaddr(struct frame *fr, pid_t pid, __u64 addr, __u64 len)
{
	unsigned char sa[sizeof(struct sockaddr_un)] = { 0 };
	unsigned char out[1 + 110];
	size_t w = 1;
	__u16 fam, port;

	if (len < 2 || mem_read(pid, addr, sa, len < sizeof(sa) ? (size_t)len : sizeof(sa)) <= 0) {
		put_none(fr);
		return;
	}
	memcpy(&fam, sa, 2);
	out[0] = (unsigned char)fam;
	if (fam == AF_INET) {
		memcpy(out + 1, sa + 4, 4);
		memcpy(&port, sa + 2, 2);
		port = ntohs(port);
		memcpy(out + 5, &port, 2);
		w += 6;
	} else if (fam == AF_INET6) {
		memcpy(out + 1, sa + 8, 16);
		memcpy(&port, sa + 2, 2);
		port = ntohs(port);
		memcpy(out + 17, &port, 2);
		w += 18;
	} else if (fam == AF_UNIX) {
		size_t l = strnlen((const char *)sa + 2, 108);

		memcpy(out + 1, sa + 2, l);
		w += l;
	}
	put_bytes(fr, out, w);
}

void put_spec(struct frame *fr, const char *spec, pid_t pid, pid_t tid, const __u64 a[6], __s64 ret)
{
	for (const char *p = spec; *p; p++) {
		int i = (p[1] >= '0' && p[1] <= '5') ? p[1] - '0' : -1;

		switch (*p) {
		case 'd':
			put_u64(fr, (__u64)(__s64)(int)a[i]);
			break;
		case 'u':
			put_u32(fr, (__u32)a[i]);
			break;
		case 'q':
			put_u64(fr, a[i]);
			break;
		case 's':
			put_ustr(fr, pid, a[i]);
			break;
		case 'a':
			put_sockaddr(fr, pid, a[i], i < 5 ? a[i + 1] : 0);
			break;
		case 'f':
			put_fdinfo(fr, pid, (int)a[i]);
			break;
		case 'b':
			put_ubytes(fr, pid, a[i], ret > 0 ? (__u64)ret : 0, 128);
			break;
		case 'I':
			put_dev_ino(fr, pid, ret);
			break;
		case 't':
			put_tuple(fr, pid, (int)a[i]);
			break;
		case 'c':
			put_tuple_sa(fr, pid, (int)a[i], a[i + 1], a[i + 2], ret);
			break;
		case 'g':
			put_sock_fdinfo_sa(fr, pid, (int)a[i], a[i + 1], a[i + 2], ret);
			break;
		case 'T':
			put_tuple(fr, pid, ret);
			break;
		case 'F':
			put_fdinfo(fr, pid, ret);
			break;
		case 'H': {
			__u64 how[3] = { 0, 0, 0 }; /* struct open_how { u64 flags, mode, resolve } */

			mem_read(pid, a[2], how, sizeof(how));
			put_u32(fr, (__u32)how[0]);
			put_u32(fr, (__u32)how[1]);
			put_u64(fr, how[2]);
			break;
		}
		case 'C':
			put_caps(fr, tid);
			break;
		case 'P':
			put_proc_block(fr, pid, tid);
			break;
		case '-':
			put_none(fr);
			break;
		default:
			break;
		}
		if (i >= 0)
			p++;
	}
}
