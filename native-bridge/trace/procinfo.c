// SPDX-License-Identifier: Apache-2.0
/*
 * What the kernel probe reads from task_struct, the tracer reads from /proc and from the
 * tracee's memory (process_vm_readv). Every reader returns -1 (or leaves a value missing) when
 * the process is gone; nothing here aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include "trace.h"

#define OVERLAYFS_SUPER_MAGIC_ 0x794c7630

__u64 trace_start_realtime_ns;

int overlay_layer(const char *path, const struct stat *sb)
{
	struct statfs fs;
	__u64 ctime;

	if (statfs(path, &fs) != 0 || fs.f_type != OVERLAYFS_SUPER_MAGIC_)
		return -1;
	ctime = (__u64)sb->st_ctim.tv_sec * 1000000000ULL + (__u64)sb->st_ctim.tv_nsec;
	return ctime >= trace_start_realtime_ns ? 1 : 0;
}

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

__u64 boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

__u64 realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

ssize_t proc_read(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n, total = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((size_t)total < cap) {
		n = read(fd, buf + total, cap - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

ssize_t proc_link(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	static const char del[] = " (deleted)";

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	n = readlink(path, buf, cap - 1);
	if (n < 0)
		return -1;
	buf[n] = 0;
	if ((size_t)n > sizeof(del) - 1 && memcmp(buf + n - (sizeof(del) - 1), del, sizeof(del) - 1) == 0) {
		n -= (ssize_t)(sizeof(del) - 1);
		buf[n] = 0;
	}
	return n;
}

ssize_t mem_read(pid_t pid, __u64 addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };

	if (addr == 0 || len == 0)
		return -1;
	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

/* Page by page, so a string that ends just before an unmapped page still reads. */
ssize_t mem_str(pid_t pid, __u64 addr, char *buf, size_t cap)
{
	size_t got = 0;
	const size_t page = 4096;

	if (addr == 0 || cap == 0)
		return -1;
	while (got < cap - 1) {
		size_t chunk = page - ((addr + got) & (page - 1));
		ssize_t n;
		char *z;

		if (chunk > cap - 1 - got)
			chunk = cap - 1 - got;
		n = mem_read(pid, addr + got, buf + got, chunk);
		if (n <= 0)
			break;
		z = memchr(buf + got, 0, (size_t)n);
		if (z) {
			got = (size_t)(z - buf);
			buf[got] = 0;
			return (ssize_t)got + 1;
		}
		got += (size_t)n;
		if ((size_t)n < chunk)
			break;
	}
	if (got == 0)
		return -1;
	buf[got] = 0; /* truncated: keep what was read, NUL-terminated */
	return (ssize_t)got + 1;
}

/* "Key:\tv1\tv2..." → the idx-th value (0-based) parsed with base. */
static int status_field(const char *st, const char *key, int idx, int base, __u64 *out)
{
	const char *p = strstr(st, key);

	if (!p)
		return -1;
	p += strlen(key);
	for (int i = 0; i <= idx; i++) {
		char *end;
		unsigned long long v;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == 0)
			return -1;
		v = strtoull(p, &end, base);
		if (end == p)
			return -1;
		if (i == idx) {
			*out = v;
			return 0;
		}
		p = end;
	}
	return -1;
}

/* The last value of a "Key:" line (NSpid/NSpgid: the innermost namespace). */
static int status_last(const char *st, const char *key, __u64 *out)
{
	const char *p = strstr(st, key), *eol;
	int ok = -1;

	if (!p)
		return -1;
	p += strlen(key);
	eol = strchr(p, '\n');
	if (!eol)
		eol = p + strlen(p);
	while (p < eol) {
		char *end;
		unsigned long long v;

		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= eol)
			break;
		v = strtoull(p, &end, 10);
		if (end == p)
			break;
		*out = v;
		ok = 0;
		p = end;
	}
	return ok;
}

/* Fields of /proc/<pid>/stat after the ")" of comm: field 3 is index 0. */
static int stat_fields(pid_t pid, unsigned long long *vals, int maxf)
{
	char buf[1024];
	ssize_t n = proc_read(pid, "stat", buf, sizeof(buf) - 1);
	char *p;
	int i = 0;

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2; /* ") " */
	if (*p)
		p += 2; /* state char + space */
	vals[i++] = 0; /* field 3 (state) as a placeholder */
	while (i < maxf && *p) {
		char *end;

		vals[i++] = strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
		while (*p == ' ')
			p++;
	}
	return i;
}

static const char *cgroup2_root(void)
{
	static int done;
	static const char *root;
	struct statfs s;

	if (done)
		return root;
	done = 1;
	if (statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		root = "/sys/fs/cgroup";
	else if (statfs("/sys/fs/cgroup/unified", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC)
		root = "/sys/fs/cgroup/unified";
	return root;
}

/* The cgroup v2 path of pid ("0::/path" line), NUL-terminated; length or -1. */
static ssize_t cgroup_path(pid_t pid, char *out, size_t cap)
{
	char buf[4096];
	ssize_t n = proc_read(pid, "cgroup", buf, sizeof(buf) - 1);
	char *p, *e;

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "0::");
	if (!p || (p != buf && p[-1] != '\n'))
		return -1;
	p += 3;
	e = strchr(p, '\n');
	if (e)
		*e = 0;
	snprintf(out, cap, "%s", p);
	return (ssize_t)strlen(out);
}

int proc_facts(pid_t pid, pid_t tid, struct procfacts *f)
{
	char st[4096], path[4200], cg[2048], what[64];
	ssize_t n;
	__u64 v;
	unsigned long long sf[24];
	static long hz;
	struct stat sb;
	const char *root;

	memset(f, 0, sizeof(*f));
	snprintf(what, sizeof(what), "task/%d/status", (int)tid);
	n = proc_read(pid, what, st, sizeof(st) - 1);
	if (n <= 0)
		n = proc_read(pid, "status", st, sizeof(st) - 1);
	if (n <= 0)
		return -1;
	st[n] = 0;
	f->tgid = status_field(st, "Tgid:", 0, 10, &v) == 0 ? (__u32)v : (__u32)pid;
	f->ppid = status_field(st, "PPid:", 0, 10, &v) == 0 ? (__u32)v : 0;
	f->uid = status_field(st, "Uid:", 0, 10, &v) == 0 ? (__u32)v : 0;
	f->euid = status_field(st, "Uid:", 1, 10, &v) == 0 ? (__u32)v : 0;
	f->fsuid = status_field(st, "Uid:", 3, 10, &v) == 0 ? (__u32)v : 0;
	f->gid = status_field(st, "Gid:", 0, 10, &v) == 0 ? (__u32)v : 0;
	f->fsgid = status_field(st, "Gid:", 3, 10, &v) == 0 ? (__u32)v : 0;
	f->loginuid = 0xffffffffu;
	n = proc_read(pid, "loginuid", what, sizeof(what) - 1);
	if (n > 0) {
		what[n] = 0;
		f->loginuid = (__u32)strtoul(what, NULL, 10);
	}
	snprintf(what, sizeof(what), "task/%d/comm", (int)tid);
	n = proc_read(pid, what, f->comm, sizeof(f->comm) - 1);
	if (n > 0) {
		if (f->comm[n - 1] == '\n')
			n--;
		f->comm[n] = 0;
	}
	/* start_ts: starttime (field 22) is in clock ticks since boot, on CLOCK_BOOTTIME */
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	if (stat_fields(pid, sf, 24) >= 21 && hz > 0)
		f->start_ts = (__u64)sf[19] * (1000000000ULL / (__u64)hz);
	root = cgroup2_root();
	if (root && cgroup_path(pid, cg, sizeof(cg)) >= 0) {
		snprintf(path, sizeof(path), "%s%s", root, cg);
		if (stat(path, &sb) == 0)
			f->cgroup_id = (__u64)sb.st_ino;
	}
	f->valid = true;
	return 0;
}

/* Exec flags as Falco defines them: EXE_WRITABLE=1, EXE_UPPER_LAYER=2, EXE_FROM_MEMFD=4, EXE_LOWER_LAYER=8. */
static __u32 exe_flags(pid_t pid, const struct stat *sb, const char *exepath)
{
	char link[64];
	int layer;
	char st[4096];
	ssize_t n = proc_read(pid, "status", st, sizeof(st) - 1);
	__u64 fsuid = (__u64)-1, fsgid = (__u64)-1, capeff = 0;
	__u32 flags = 0;

	if (n > 0) {
		st[n] = 0;
		status_field(st, "Uid:", 3, 10, &fsuid);
		status_field(st, "Gid:", 3, 10, &fsgid);
		status_field(st, "CapEff:", 0, 16, &capeff);
	}
	if ((fsuid == sb->st_uid && (sb->st_mode & 0200)) || (fsgid == sb->st_gid && (sb->st_mode & 0020)) ||
	    (sb->st_mode & 0002) || (capeff & (1ULL << 1)))
		flags |= 1;
	if (strncmp(exepath, "/memfd:", 7) == 0)
		flags |= 4;
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	layer = overlay_layer(link, sb);
	if (layer == 1)
		flags |= 2;
	else if (layer == 0)
		flags |= 8;
	return flags;
}

void put_caps(struct frame *fr, pid_t tid)
{
	char st[4096];
	ssize_t n = proc_read(tid, "status", st, sizeof(st) - 1);
	__u64 v;
	static const char *keys[3] = { "CapInh:", "CapPrm:", "CapEff:" };

	if (n <= 0) {
		put_none(fr);
		put_none(fr);
		put_none(fr);
		return;
	}
	st[n] = 0;
	for (int i = 0; i < 3; i++) {
		if (status_field(st, keys[i], 0, 16, &v) == 0)
			put_u64(fr, v);
		else
			put_none(fr);
	}
}

/*
 * FORMAT.md process block: 0 exe(argv0) 1 args 2 cwd 3 env 4 exepath 5 cgroup path 6 sid 7 pgid
 * 8 vpgid 9 vpid 10 vtid 11 egid 12 tty 13 cap_inh 14 cap_perm 15 cap_eff 16 exe flags
 * 17 exe ino 18 exe ctime 19 exe mtime 20 pidns init start ts.
 */
void put_proc_block(struct frame *fr, pid_t pid, pid_t tid)
{
	static char cmd[4096 + 1], buf[4096], st[4096];
	ssize_t n, l0;
	unsigned long long sf[24];
	int nsf;
	__u64 v;
	struct stat sb;
	char what[64];

	n = proc_read(pid, "cmdline", cmd, sizeof(cmd) - 1);
	if (n > 0) {
		cmd[n] = 0;
		l0 = (ssize_t)strnlen(cmd, (size_t)n) + 1;
		if (l0 > n)
			l0 = n;
		put_bytes(fr, cmd, (size_t)l0);
		put_bytes(fr, cmd + l0, (size_t)(n - l0));
	} else {
		put_none(fr);
		put_none(fr);
	}
	n = proc_link(pid, "cwd", buf, sizeof(buf));
	if (n >= 0)
		put_bytes(fr, buf, (size_t)n + 1);
	else
		put_none(fr);
	put_none(fr); /* env: not collected */
	n = proc_link(pid, "exe", buf, sizeof(buf));
	if (n >= 0)
		put_bytes(fr, buf, (size_t)n + 1);
	else
		put_none(fr);
	{
		char cg[2048];
		ssize_t cl = cgroup_path(pid, cg, sizeof(cg));

		if (cl >= 0)
			put_bytes(fr, cg, (size_t)cl + 1);
		else
			put_none(fr);
	}
	nsf = stat_fields(pid, sf, 24);
	/* stat: field 5 pgrp = sf[2], 6 session = sf[3], 7 tty_nr = sf[4] */
	if (nsf >= 5) {
		put_u32(fr, (__u32)sf[3]);
		put_u32(fr, (__u32)sf[2]);
	} else {
		put_none(fr);
		put_none(fr);
	}
	snprintf(what, sizeof(what), "task/%d/status", (int)tid);
	n = proc_read(pid, what, st, sizeof(st) - 1);
	if (n > 0) {
		st[n] = 0;
		if (status_last(st, "NSpgid:", &v) == 0)
			put_u32(fr, (__u32)v);
		else
			put_none(fr);
		if (status_last(st, "NSpid:", &v) == 0)
			put_u32(fr, (__u32)v);
		else
			put_none(fr);
		if (status_last(st, "NSpid:", &v) == 0) /* the task's own status: its vtid */
			put_u32(fr, (__u32)v);
		else
			put_none(fr);
		if (status_field(st, "Gid:", 1, 10, &v) == 0)
			put_u32(fr, (__u32)v);
		else
			put_none(fr);
	} else {
		for (int i = 0; i < 4; i++)
			put_none(fr);
	}
	if (nsf >= 5)
		put_u32(fr, (__u32)sf[4]);
	else
		put_none(fr);
	put_caps(fr, tid);
	n = proc_link(pid, "exe", buf, sizeof(buf));
	snprintf(what, sizeof(what), "/proc/%d/exe", (int)pid);
	if (n >= 0 && stat(what, &sb) == 0) {
		put_u32(fr, exe_flags(pid, &sb, buf));
		put_u64(fr, (__u64)sb.st_ino);
		put_u64(fr, (__u64)sb.st_ctim.tv_sec * 1000000000ULL + (__u64)sb.st_ctim.tv_nsec);
		put_u64(fr, (__u64)sb.st_mtim.tv_sec * 1000000000ULL + (__u64)sb.st_mtim.tv_nsec);
	} else {
		for (int i = 0; i < 4; i++)
			put_none(fr);
	}
	put_none(fr); /* pidns init start ts: not known from /proc */
}
