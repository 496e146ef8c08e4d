// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-probe: loads the CO-RE probe, attaches the tracepoints of the requested syscalls, and
 * writes the probe's frames (events.h, FORMAT.md) to stdout in batches.
 *
 *   vigil-probe --syscalls execve,openat,... [--exclude-pid N]... [--ringbuf-mb N]
 *               [--wakeup-kb N] [--poll-ms N] [--stats-ms N] [--prevent-max N] [--env]
 *               [--control-stdin] [-v]
 *
 * ==== Contract ====
 * - Prints one line "vigil-probe: <what is missing / how to fix>" on stderr and exits non-zero
 *   when BTF is missing, privileges are missing or the probe fails to load or attach.
 * - After attaching, writes a VIGIL_CTL_READY frame; every --stats-ms a VIGIL_CTL_STATS frame
 *   with the per-CPU ring-buffer drop counters.
 * - Never reports its own process nor the --exclude-pid tgids.
 * - Exits 0 on SIGTERM/SIGINT, when stdout closes, and (with --control-stdin) on stdin EOF.
 * - A clone-family name may carry ":child" ("clone:child"): only the new task's side is reported.
 * - With --control-stdin, reads lines "syscalls a,b,c" (replace the set), "exclude N",
 *   "prevent CGROUP_ID BITS" (arm prevention for a cgroup; BITS 0 disarms) and "prevent-clear",
 *   the kernel filter lines "filter-begin EV", "fname EV DIM BITS HEX", "filter EV off|CLAUSES"
 *   (FORMAT.md "Kernel filters"), and "sync N", answered by a VIGIL_CTL_SYNC frame once every
 *   line before it has been applied.
 *   With every stats frame comes a VIGIL_CTL_PREVENT frame (blocked execs, armed cgroups).
 *
 * ==== Sections ====
 * options → syscall table → load (pman-style: 0 on success, -errno on error) → attach/retune
 * → output batching → main loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "events.h"
#include "probe.skel.h"

/* ------------------------------------------------------------------ options */

struct options {
	char *syscalls;
	__u32 exclude[64];
	int nexclude;
	int ringbuf_mb;
	int wakeup_kb;
	int poll_ms;
	int stats_ms;
	int prevent_max;
	bool env;
	bool control_stdin;
	bool verbose;
};

static struct options opt = { .ringbuf_mb = 8, .wakeup_kb = 256, .poll_ms = 20, .stats_ms = 1000, .prevent_max = 4096 };
static volatile sig_atomic_t stopping;

static void die_line(const char *fmt, ...)
{
	va_list ap;

	fputs("vigil-probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ syscall table */

struct sc {
	const char *name; /* Falco event name */
	__u32 code; /* enum vigil_event_type */
	const char *prog; /* program name in probe.bpf.c */
	const char *tp; /* tracefs event under syscalls/, NULL for non-syscall hooks */
};

static const struct sc SYSCALLS[] = {
	{ "execve", VIGIL_EV_EXECVE, "exit_execve", "sys_exit_execve" },
	{ "execveat", VIGIL_EV_EXECVEAT, "exit_execveat", "sys_exit_execveat" },
	{ "open", VIGIL_EV_OPEN, "exit_open", "sys_exit_open" },
	{ "openat", VIGIL_EV_OPENAT, "exit_openat", "sys_exit_openat" },
	{ "openat2", VIGIL_EV_OPENAT2, "exit_openat2", "sys_exit_openat2" },
	{ "creat", VIGIL_EV_CREAT, "exit_creat", "sys_exit_creat" },
	{ "close", VIGIL_EV_CLOSE, "exit_close", "sys_exit_close" },
	{ "rename", VIGIL_EV_RENAME, "exit_rename", "sys_exit_rename" },
	{ "renameat", VIGIL_EV_RENAMEAT, "exit_renameat", "sys_exit_renameat" },
	{ "renameat2", VIGIL_EV_RENAMEAT2, "exit_renameat2", "sys_exit_renameat2" },
	{ "unlink", VIGIL_EV_UNLINK, "exit_unlink", "sys_exit_unlink" },
	{ "unlinkat", VIGIL_EV_UNLINKAT, "exit_unlinkat", "sys_exit_unlinkat" },
	{ "mkdir", VIGIL_EV_MKDIR, "exit_mkdir", "sys_exit_mkdir" },
	{ "mkdirat", VIGIL_EV_MKDIRAT, "exit_mkdirat", "sys_exit_mkdirat" },
	{ "rmdir", VIGIL_EV_RMDIR, "exit_rmdir", "sys_exit_rmdir" },
	{ "link", VIGIL_EV_LINK, "exit_link", "sys_exit_link" },
	{ "linkat", VIGIL_EV_LINKAT, "exit_linkat", "sys_exit_linkat" },
	{ "symlink", VIGIL_EV_SYMLINK, "exit_symlink", "sys_exit_symlink" },
	{ "symlinkat", VIGIL_EV_SYMLINKAT, "exit_symlinkat", "sys_exit_symlinkat" },
	{ "chmod", VIGIL_EV_CHMOD, "exit_chmod", "sys_exit_chmod" },
	{ "fchmod", VIGIL_EV_FCHMOD, "exit_fchmod", "sys_exit_fchmod" },
	{ "fchmodat", VIGIL_EV_FCHMODAT, "exit_fchmodat", "sys_exit_fchmodat" },
	{ "chown", VIGIL_EV_CHOWN, "exit_chown", "sys_exit_chown" },
	{ "lchown", VIGIL_EV_LCHOWN, "exit_lchown", "sys_exit_lchown" },
	{ "fchown", VIGIL_EV_FCHOWN, "exit_fchown", "sys_exit_fchown" },
	{ "fchownat", VIGIL_EV_FCHOWNAT, "exit_fchownat", "sys_exit_fchownat" },
	{ "truncate", VIGIL_EV_TRUNCATE, "exit_truncate", "sys_exit_truncate" },
	{ "ftruncate", VIGIL_EV_FTRUNCATE, "exit_ftruncate", "sys_exit_ftruncate" },
	{ "clone", VIGIL_EV_CLONE, "exit_clone", "sys_exit_clone" },
	{ "clone3", VIGIL_EV_CLONE3, "exit_clone3", "sys_exit_clone3" },
	{ "fork", VIGIL_EV_FORK, "exit_fork", "sys_exit_fork" },
	{ "vfork", VIGIL_EV_VFORK, "exit_vfork", "sys_exit_vfork" },
	{ "procexit", VIGIL_EV_PROCEXIT, "sched_exit", NULL },
	{ "setuid", VIGIL_EV_SETUID, "exit_setuid", "sys_exit_setuid" },
	{ "setgid", VIGIL_EV_SETGID, "exit_setgid", "sys_exit_setgid" },
	{ "setresuid", VIGIL_EV_SETRESUID, "exit_setresuid", "sys_exit_setresuid" },
	{ "setresgid", VIGIL_EV_SETRESGID, "exit_setresgid", "sys_exit_setresgid" },
	{ "capset", VIGIL_EV_CAPSET, "exit_capset", "sys_exit_capset" },
	{ "socket", VIGIL_EV_SOCKET, "exit_socket", "sys_exit_socket" },
	{ "connect", VIGIL_EV_CONNECT, "exit_connect", "sys_exit_connect" },
	{ "accept", VIGIL_EV_ACCEPT, "exit_accept", "sys_exit_accept" },
	{ "accept4", VIGIL_EV_ACCEPT4, "exit_accept4", "sys_exit_accept4" },
	{ "bind", VIGIL_EV_BIND, "exit_bind", "sys_exit_bind" },
	{ "listen", VIGIL_EV_LISTEN, "exit_listen", "sys_exit_listen" },
	{ "sendto", VIGIL_EV_SENDTO, "exit_sendto", "sys_exit_sendto" },
	{ "sendmsg", VIGIL_EV_SENDMSG, "exit_sendmsg", "sys_exit_sendmsg" },
	{ "dup", VIGIL_EV_DUP, "exit_dup", "sys_exit_dup" },
	{ "dup2", VIGIL_EV_DUP2, "exit_dup2", "sys_exit_dup2" },
	{ "dup3", VIGIL_EV_DUP3, "exit_dup3", "sys_exit_dup3" },
	{ "fcntl", VIGIL_EV_FCNTL, "exit_fcntl", "sys_exit_fcntl" },
	{ "ptrace", VIGIL_EV_PTRACE, "exit_ptrace", "sys_exit_ptrace" },
	{ "mount", VIGIL_EV_MOUNT, "exit_mount", "sys_exit_mount" },
	{ "umount2", VIGIL_EV_UMOUNT2, "exit_umount", "sys_exit_umount" },
	{ "init_module", VIGIL_EV_INIT_MODULE, "exit_init_module", "sys_exit_init_module" },
	{ "finit_module", VIGIL_EV_FINIT_MODULE, "exit_finit_module", "sys_exit_finit_module" },
	{ "memfd_create", VIGIL_EV_MEMFD_CREATE, "exit_memfd_create", "sys_exit_memfd_create" },
	{ "bpf", VIGIL_EV_BPF, "exit_bpf", "sys_exit_bpf" },
	{ "unshare", VIGIL_EV_UNSHARE, "exit_unshare", "sys_exit_unshare" },
	{ "setns", VIGIL_EV_SETNS, "exit_setns", "sys_exit_setns" },
	{ "prctl", VIGIL_EV_PRCTL, "exit_prctl", "sys_exit_prctl" },
	{ "chdir", VIGIL_EV_CHDIR, "exit_chdir", "sys_exit_chdir" },
	{ "fchdir", VIGIL_EV_FCHDIR, "exit_fchdir", "sys_exit_fchdir" },
	{ "setreuid", VIGIL_EV_SETREUID, "exit_setreuid", "sys_exit_setreuid" },
	{ "setregid", VIGIL_EV_SETREGID, "exit_setregid", "sys_exit_setregid" },
};
#define NSYSCALLS (sizeof(SYSCALLS) / sizeof(SYSCALLS[0]))

static const char *tracefs_root;
static bool available[NSYSCALLS]; /* hook exists on this kernel */
static struct bpf_link *links[NSYSCALLS];
static int nattached;

static bool is_clone_family(__u32 code)
{
	return code == VIGIL_EV_CLONE || code == VIGIL_EV_CLONE3 || code == VIGIL_EV_FORK || code == VIGIL_EV_VFORK;
}

static int find_syscall(const char *name)
{
	for (size_t i = 0; i < NSYSCALLS; i++)
		if (strcmp(SYSCALLS[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Finds (mounting if needed) tracefs, which libbpf needs to resolve tracepoint ids. */
static int setup_tracefs(void)
{
	static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct stat st;

	for (int i = 0; i < 2; i++)
		if (stat(roots[i], &st) == 0 && access(roots[i], F_OK) == 0) {
			char p[256];

			snprintf(p, sizeof(p), "%s/events/syscalls", roots[i]);
			if (stat(p, &st) == 0) {
				tracefs_root = roots[i];
				return 0;
			}
		}
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 &&
	    access("/sys/kernel/tracing/events/syscalls", F_OK) == 0) {
		tracefs_root = "/sys/kernel/tracing";
		return 0;
	}
	return -errno ? -errno : -ENOENT;
}

static bool hook_exists(const struct sc *s)
{
	char p[256];

	if (!s->tp)
		return true;
	snprintf(p, sizeof(p), "%s/events/syscalls/%s", tracefs_root, s->tp);
	return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ libbpf logging */

static char last_libbpf_msg[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		va_list aq;

		va_copy(aq, ap);
		vsnprintf(last_libbpf_msg, sizeof(last_libbpf_msg), fmt, aq);
		va_end(aq);
	}
	if (!opt.verbose && level != LIBBPF_WARN)
		return 0;
	if (!opt.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ------------------------------------------------------------------ load */

/**
 * probe_load() - open the skeleton, set tunables, drop programs whose hook is missing, load.
 * Returns 0 on success, -errno on error (with one line printed on stderr).
 */
static int probe_load(struct probe **out)
{
	struct probe *skel;
	int err;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		die_line("kernel BTF is missing (/sys/kernel/btf/vmlinux): run a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	err = setup_tracefs();
	if (err && (err == -EPERM || err == -EACCES) && geteuid() != 0) {
		die_line("permission denied: the kernel probe needs root or the capabilities CAP_BPF, CAP_PERFMON, "
			 "CAP_SYS_RESOURCE and CAP_DAC_READ_SEARCH (tracefs at /sys/kernel/tracing: %s)",
			 strerror(-err));
		return err;
	}
	if (err) {
		die_line("tracefs is not available at /sys/kernel/tracing (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing' as root",
			 strerror(-err));
		return err;
	}
	{
		/* with -v the kernel also reports verifier statistics per program */
		LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_level = opt.verbose ? 4 : 0);

		skel = probe__open_opts(&oo);
	}
	if (!skel) {
		err = -errno;
		die_line("cannot open the eBPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->wakeup_bytes = (__u32)opt.wakeup_kb * 1024;
	skel->rodata->collect_env = opt.env;
	bpf_map__set_max_entries(skel->maps.events, (__u32)opt.ringbuf_mb << 20);
	bpf_map__set_max_entries(skel->maps.scratch_map, (__u32)libbpf_num_possible_cpus());
	bpf_map__set_max_entries(skel->maps.prevent, (__u32)opt.prevent_max);
	for (size_t i = 0; i < NSYSCALLS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog);

		available[i] = p && hook_exists(&SYSCALLS[i]);
		if (p && !available[i])
			bpf_program__set_autoload(p, false);
	}
	err = probe__load(skel);
	if (err) {
		if (err == -EPERM || (err == -EACCES && geteuid() != 0))
			die_line("permission denied loading the eBPF probe: run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (%s)",
				 strerror(-err));
		else
			die_line("the eBPF probe failed to load (%s)%s%s", strerror(-err),
				 last_libbpf_msg[0] ? ": " : "", last_libbpf_msg);
		probe__destroy(skel);
		return err;
	}
	*out = skel;
	return 0;
}

/* ------------------------------------------------------------------ attach / retune */

static int exclude_pid(struct probe *skel, __u32 pid)
{
	__u8 one = 1;

	return bpf_map__update_elem(skel->maps.excluded, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
}

/**
 * set_syscalls() - make the attached set equal to the comma-separated `list`: enable map entries
 * and attach the tracepoints of wanted syscalls, detach the others. Unknown names are reported
 * once on stderr and ignored. Returns 0 on success, -errno when an attach fails.
 */
static int set_syscalls(struct probe *skel, const char *list)
{
	__u8 want[NSYSCALLS] = { 0 };
	char *copy = strdup(list ? list : ""), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \n", &save); tok; tok = strtok_r(NULL, ", \n", &save)) {
		/* "clone:child": only the child's side of a clone-family call (the agent's state needs it;
		 * no rule does) */
		char *suffix = strchr(tok, ':');
		__u8 value = VIGIL_ON;
		int i;

		if (suffix) {
			*suffix++ = 0;
			if (strcmp(suffix, "child") == 0)
				value = VIGIL_ON_CHILD;
			else
				fprintf(stderr, "vigil-probe: warning: unknown qualifier ':%s' of '%s' ignored\n", suffix, tok);
		}
		i = find_syscall(tok);

		if (i < 0)
			fprintf(stderr, "vigil-probe: warning: unknown syscall '%s' ignored\n", tok);
		else if (!available[i])
			fprintf(stderr, "vigil-probe: warning: syscall '%s' has no tracepoint on this kernel\n", tok);
		else if (value == VIGIL_ON_CHILD && !is_clone_family(SYSCALLS[i].code)) {
			fprintf(stderr, "vigil-probe: warning: ':child' applies to the clone family only; '%s' taken whole\n", tok);
			want[i] = VIGIL_ON;
		} else
			want[i] = value;
	}
	free(copy);
	for (size_t i = 0; i < NSYSCALLS; i++) {
		__u32 code = SYSCALLS[i].code;
		__u8 on = want[i];

		if (want[i] && !links[i]) {
			struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog);
			struct bpf_link *l = p ? bpf_program__attach(p) : NULL;

			if (!l) {
				err = -errno;
				die_line("cannot attach the %s hook (%s)", SYSCALLS[i].name, strerror(-err));
				return err;
			}
			links[i] = l;
			nattached++;
		}
		bpf_map__update_elem(skel->maps.enabled, &code, sizeof(code), &on, sizeof(on), BPF_ANY);
		if (!want[i] && links[i]) {
			bpf_link__destroy(links[i]);
			links[i] = NULL;
			nattached--;
		}
	}
	return err;
}

/* ------------------------------------------------------------------ prevention */

static __u32 prevent_entries;
static __u32 prevent_map_full;

/**
 * set_prevent() - arm (bits != 0) or disarm (bits == 0) prevention for one cgroup v2 id. A full
 * map refuses the request: the cgroup stays unarmed (fail open), counted and reported once.
 * Returns 0 on success, -errno on error.
 */
static int set_prevent(struct probe *skel, __u64 cgid, __u32 bits)
{
	__u32 old;
	bool had = bpf_map__lookup_elem(skel->maps.prevent, &cgid, sizeof(cgid), &old, sizeof(old), 0) == 0;
	int err;

	/* id 1 is the root cgroup (every host process): never armed, whatever the agent asks */
	if (cgid <= 1)
		return -EINVAL;
	if (bits == 0) {
		if (had && bpf_map__delete_elem(skel->maps.prevent, &cgid, sizeof(cgid), 0) == 0)
			prevent_entries--;
		return 0;
	}
	bits &= VIGIL_PREVENT_ALL;
	err = bpf_map__update_elem(skel->maps.prevent, &cgid, sizeof(cgid), &bits, sizeof(bits), BPF_ANY);
	if (err) {
		if (err == -E2BIG || err == -ENOMEM) {
			if (prevent_map_full++ == 0)
				fprintf(stderr, "vigil-probe: warning: prevention map full (%u cgroups): cgroup %llu not armed (raise --prevent-max)\n",
					prevent_entries, (unsigned long long)cgid);
		}
		return err;
	}
	if (!had)
		prevent_entries++;
	return 0;
}

static void clear_prevent(struct probe *skel)
{
	__u64 next;

	/* the deleted key is gone, so each round starts again from the first key */
	while (bpf_map__get_next_key(skel->maps.prevent, NULL, &next, sizeof(next)) == 0)
		if (bpf_map__delete_elem(skel->maps.prevent, &next, sizeof(next), 0) != 0)
			break;
	prevent_entries = 0;
}

/* ------------------------------------------------------------------ output batching */

#define OUT_CAP (1 << 20)
static unsigned char outbuf[OUT_CAP];
static size_t outlen;
static __u64 frames_out;
static bool out_closed;

static void flush_out(void)
{
	size_t done = 0;

	while (done < outlen && !out_closed) {
		ssize_t w = write(STDOUT_FILENO, outbuf + done, outlen - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			out_closed = true; /* EPIPE: the reader went away */
			break;
		}
		done += (size_t)w;
	}
	outlen = 0;
}

static void emit(const void *data, size_t size)
{
	if (outlen + size > OUT_CAP)
		flush_out();
	if (size > OUT_CAP)
		return;
	memcpy(outbuf + outlen, data, size);
	outlen += size;
	frames_out++;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct vigil_hdr *h = data;

	/* the header's size is authoritative: the record may carry ring-buffer padding */
	if (size >= sizeof(*h) && h->size >= sizeof(*h) && h->size <= size)
		size = h->size;
	emit(data, size);
	return 0;
}

static __u64 clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static void ctl_header(struct vigil_hdr *h, __u16 type, __u32 size)
{
	memset(h, 0, sizeof(*h));
	h->size = size;
	h->type = type;
	h->version = VIGIL_WIRE_VERSION;
	h->ts = clock_ns(CLOCK_BOOTTIME);
	h->pid = (__u32)getpid();
	h->tid = h->pid;
	h->loginuid = 0xffffffffu;
	memcpy(h->comm, "vigil-probe", 12);
}

static void emit_ready(int ncpus)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_ready)];
	struct vigil_ctl_ready r;

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_READY, sizeof(f));
	r.realtime_ns = clock_ns(CLOCK_REALTIME);
	r.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	r.ncpus = (__u32)ncpus;
	r.programs = (__u32)nattached;
	memcpy(f + VIGIL_HDR_SIZE, &r, sizeof(r));
	emit(f, sizeof(f));
	flush_out();
}

static void emit_prevent(struct probe *skel, int ncpus)
{
	struct { __u64 blocked, signal_failed; } *vals = calloc((size_t)ncpus, 16);
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_prevent)];
	struct vigil_ctl_prevent p = { 0 };
	__u32 zero = 0;

	if (!vals)
		return;
	if (bpf_map__lookup_elem(skel->maps.prevent_counters, &zero, sizeof(zero), vals, (size_t)ncpus * 16, 0) == 0) {
		for (int i = 0; i < ncpus; i++) {
			p.blocked += vals[i].blocked;
			p.signal_failed += vals[i].signal_failed;
		}
	}
	free(vals);
	p.entries = prevent_entries;
	p.map_full = prevent_map_full;
	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_PREVENT, sizeof(f));
	memcpy(f + VIGIL_HDR_SIZE, &p, sizeof(p));
	emit(f, sizeof(f));
}

static void emit_sync(__u64 seq)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_sync)];
	struct vigil_ctl_sync s = { .seq = seq };

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_SYNC, sizeof(f));
	memcpy(f + VIGIL_HDR_SIZE, &s, sizeof(s));
	emit(f, sizeof(f));
	flush_out();
}

static void emit_stats(struct probe *skel, int ncpus)
{
	struct { __u64 drops, events, filtered; } *vals = calloc((size_t)ncpus, 24);
	/* header, fixed part, per-CPU drops, then (appended) the events dropped by kernel filters */
	size_t fsize = VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_stats) + (size_t)ncpus * 8 + 8;
	unsigned char *f = calloc(1, fsize);
	struct vigil_ctl_stats st = { 0 };
	__u64 filtered = 0;
	__u32 zero = 0;

	if (!vals || !f)
		goto cleanup;
	if (bpf_map__lookup_elem(skel->maps.counters, &zero, sizeof(zero), vals, (size_t)ncpus * 24, 0) != 0)
		goto cleanup;
	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_STATS, (__u32)fsize);
	st.realtime_ns = clock_ns(CLOCK_REALTIME);
	st.boottime_ns = clock_ns(CLOCK_BOOTTIME);
	st.ncpus = (__u32)ncpus;
	st.programs = (__u32)nattached;
	for (int i = 0; i < ncpus; i++) {
		st.drops += vals[i].drops;
		st.events += vals[i].events;
		memcpy(f + VIGIL_HDR_SIZE + sizeof(st) + (size_t)i * 8, &vals[i].drops, 8);
		filtered += vals[i].filtered;
	}
	memcpy(f + fsize - 8, &filtered, 8);
	st.frames_out = frames_out + 2;
	memcpy(f + VIGIL_HDR_SIZE, &st, sizeof(st));
	emit(f, fsize);
	emit_prevent(skel, ncpus);
cleanup:
	free(vals);
	free(f);
}

/* ------------------------------------------------------------------ kernel filters */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An event name of the filterable kind, as its code; -1 otherwise. */
static int filter_type(const char *name)
{
	int i = find_syscall(name);

	if (i < 0)
		return -1;
	switch (SYSCALLS[i].code) {
	case VIGIL_EV_OPEN:
	case VIGIL_EV_OPENAT:
	case VIGIL_EV_OPENAT2:
		return (int)SYSCALLS[i].code;
	default:
		return -1;
	}
}

/*
 * filter_begin() - turn `type`'s filter off (every event passes) and delete its names, so that
 * an update in progress can only send more events, never fewer. Returns 0 or -errno.
 */
static int filter_begin(struct probe *skel, __u32 type)
{
	static struct vigil_fname_key doomed[8192]; /* the map's max_entries */
	struct vigil_filter off = { 0 };
	struct vigil_fname_key k, next, *prev = NULL;
	int fd = bpf_map__fd(skel->maps.filter_names), err;
	size_t n = 0;

	struct vigil_fname_hint none = { 0 };

	err = bpf_map__update_elem(skel->maps.filters, &type, sizeof(type), &off, sizeof(off), BPF_ANY);
	if (err)
		return err;
	for (__u32 dim = VIGIL_DIM_LEAF; dim <= VIGIL_DIM_RAWTOP; dim++) {
		__u32 hk = VIGIL_FNAME_HINT_KEY(type, dim);

		bpf_map__update_elem(skel->maps.fname_hints, &hk, sizeof(hk), &none, sizeof(none), BPF_ANY);
	}
	while (n < sizeof(doomed) / sizeof(doomed[0]) && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.type == type)
			doomed[n++] = next;
		k = next;
		prev = &k;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	return 0;
}

/* "fname <event> <dim> <bits> <hex name>": one name of a set. Returns 0 or -errno. */
static int filter_name(struct probe *skel, char *args)
{
	char ev[32], hex[2 * VIGIL_FNAME_MAX + 2];
	unsigned int dim, bits;
	struct vigil_fname_key k = { 0 };
	struct vigil_fname_hint hint;
	__u32 hk;
	size_t n;
	int type, err;

	if (sscanf(args, "%31s %u %u %121s", ev, &dim, &bits, hex) != 4)
		return -EINVAL;
	type = filter_type(ev);
	n = strlen(hex);
	if (type < 0 || dim < VIGIL_DIM_LEAF || dim > VIGIL_DIM_RAWTOP || n % 2 || n / 2 >= VIGIL_FNAME_MAX)
		return -EINVAL;
	k.type = (__u16)type;
	k.dim = (__u8)dim;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		k.name[i] = (char)(hi << 4 | lo);
	}
	hk = VIGIL_FNAME_HINT_KEY(type, dim);
	if (bpf_map__lookup_elem(skel->maps.fname_hints, &hk, sizeof(hk), &hint, sizeof(hint), 0))
		memset(&hint, 0, sizeof(hint));
	hint.len_mask |= 1ULL << (n / 2);
	hint.first[(__u8)k.name[0] >> 6] |= 1ULL << ((__u8)k.name[0] & 63);
	/* the hint first: a name is never in the set while the hint says it cannot be */
	err = bpf_map__update_elem(skel->maps.fname_hints, &hk, sizeof(hk), &hint, sizeof(hint), BPF_ANY);
	return err ? err : bpf_map__update_elem(skel->maps.filter_names, &k, sizeof(k), &bits, sizeof(bits), BPF_ANY);
}

/*
 * "filter <event> off" or "filter <event> res,acc,flags_all,need ..." (one group per clause):
 * installs the clauses (after "filter-begin" and the "fname" lines). Returns 0 or -errno.
 */
static int filter_set(struct probe *skel, char *args)
{
	struct vigil_filter f = { 0 };
	char *save = NULL, *tok = strtok_r(args, " ", &save);
	int type = tok ? filter_type(tok) : -1;
	__u32 key;

	if (type < 0)
		return -EINVAL;
	key = (__u32)type;
	while ((tok = strtok_r(NULL, " ", &save))) {
		unsigned int res, acc, fa, need;

		if (strcmp(tok, "off") == 0) {
			f.n = 0;
			break;
		}
		if (f.n >= VIGIL_FILTER_CLAUSES || sscanf(tok, "%u,%u,%u,%u", &res, &acc, &fa, &need) != 4 ||
		    res > VIGIL_RES_FAIL || acc > 15 || need >= (1U << VIGIL_NEED_KINDS))
			return -EINVAL;
		f.c[f.n].res = (__u8)res;
		f.c[f.n].acc = (__u8)acc;
		f.c[f.n].flags_all = fa;
		f.c[f.n].need = (__u8)need;
		f.n++;
	}
	f.on = f.n > 0;
	vigil_filter_masks(&f);
	return bpf_map__update_elem(skel->maps.filters, &key, sizeof(key), &f, sizeof(f), BPF_ANY);
}

/* One "filter-begin" / "fname" / "filter" control line; a bad line is reported on stderr. */
static void filter_control(struct probe *skel, char *line)
{
	int err;

	if (strncmp(line, "filter-begin ", 13) == 0) {
		int type = filter_type(line + 13);

		err = type < 0 ? -EINVAL : filter_begin(skel, (__u32)type);
	} else if (strncmp(line, "fname ", 6) == 0) {
		err = filter_name(skel, line + 6);
	} else {
		err = filter_set(skel, line + 7);
	}
	if (err)
		fprintf(stderr, "vigil-probe: warning: kernel filter line rejected (%s): %.80s\n", strerror(-err), line);
}

/* ------------------------------------------------------------------ control input */

static char ctl_line[65536];
static size_t ctl_len;

/* Reads control lines from stdin; returns false on EOF (the agent went away). */
static bool read_control(struct probe *skel)
{
	ssize_t r = read(STDIN_FILENO, ctl_line + ctl_len, sizeof(ctl_line) - 1 - ctl_len);
	char *nl;

	if (r == 0)
		return false;
	if (r < 0)
		return errno == EINTR || errno == EAGAIN;
	ctl_len += (size_t)r;
	ctl_line[ctl_len] = 0;
	while ((nl = memchr(ctl_line, '\n', ctl_len))) {
		*nl = 0;
		if (strncmp(ctl_line, "syscalls ", 9) == 0)
			set_syscalls(skel, ctl_line + 9);
		else if (strncmp(ctl_line, "exclude ", 8) == 0)
			exclude_pid(skel, (__u32)strtoul(ctl_line + 8, NULL, 10));
		else if (strncmp(ctl_line, "prevent ", 8) == 0) {
			char *end = NULL;
			unsigned long long id = strtoull(ctl_line + 8, &end, 10);
			unsigned long bits = end ? strtoul(end, NULL, 10) : 0;

			set_prevent(skel, (__u64)id, (__u32)bits);
		} else if (strcmp(ctl_line, "prevent-clear") == 0)
			clear_prevent(skel);
		else if (strncmp(ctl_line, "filter-begin ", 13) == 0 || strncmp(ctl_line, "fname ", 6) == 0 ||
			 strncmp(ctl_line, "filter ", 7) == 0)
			filter_control(skel, ctl_line);
		else if (strncmp(ctl_line, "sync ", 5) == 0)
			emit_sync(strtoull(ctl_line + 5, NULL, 10));
		ctl_len -= (size_t)(nl + 1 - ctl_line);
		memmove(ctl_line, nl + 1, ctl_len);
	}
	if (ctl_len >= sizeof(ctl_line) - 1)
		ctl_len = 0; /* an overlong line is dropped */
	return true;
}

/* ------------------------------------------------------------------ main */

static void on_signal(int sig)
{
	stopping = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vigil-probe --syscalls a,b,c [--exclude-pid N]... [--ringbuf-mb N] [--wakeup-kb N]\n"
		"                   [--poll-ms N] [--stats-ms N] [--prevent-max N] [--env] [--control-stdin] [-v]\n"
		"Writes Vigil wire frames (native-bridge/FORMAT.md) to stdout.\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "syscalls", required_argument, 0, 's' }, { "exclude-pid", required_argument, 0, 'x' },
		{ "ringbuf-mb", required_argument, 0, 'r' }, { "wakeup-kb", required_argument, 0, 'w' },
		{ "poll-ms", required_argument, 0, 'p' }, { "stats-ms", required_argument, 0, 't' },
		{ "prevent-max", required_argument, 0, 'P' }, { "env", no_argument, 0, 'e' }, { "control-stdin", no_argument, 0, 'c' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:x:r:w:p:t:P:ecvh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt.syscalls = optarg;
			break;
		case 'x':
			if (opt.nexclude < 64)
				opt.exclude[opt.nexclude++] = (__u32)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			opt.ringbuf_mb = atoi(optarg);
			break;
		case 'w':
			opt.wakeup_kb = atoi(optarg);
			break;
		case 'p':
			opt.poll_ms = atoi(optarg);
			break;
		case 't':
			opt.stats_ms = atoi(optarg);
			break;
		case 'P':
			opt.prevent_max = atoi(optarg);
			break;
		case 'e':
			opt.env = true;
			break;
		case 'c':
			opt.control_stdin = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage();
			exit(0);
		default:
			usage();
			return -EINVAL;
		}
	}
	/* ring buffer size must be a power of two number of pages */
	if (opt.ringbuf_mb < 1 || opt.ringbuf_mb > 1024 || (opt.ringbuf_mb & (opt.ringbuf_mb - 1))) {
		die_line("--ringbuf-mb must be a power of two between 1 and 1024");
		return -EINVAL;
	}
	if (opt.prevent_max < 1 || opt.prevent_max > 1 << 20) {
		die_line("--prevent-max must be between 1 and 1048576");
		return -EINVAL;
	}
	if (opt.poll_ms < 1)
		opt.poll_ms = 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct probe *skel = NULL;
	struct ring_buffer *rb = NULL;
	int err, ncpus;
	__u64 next_stats;

	err = parse_args(argc, argv);
	if (err)
		return -err;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		die_line("cannot count possible CPUs");
		return 1;
	}

	err = probe_load(&skel);
	if (err)
		goto cleanup;
	err = exclude_pid(skel, (__u32)getpid());
	for (int i = 0; i < opt.nexclude && !err; i++)
		err = exclude_pid(skel, opt.exclude[i]);
	if (err) {
		die_line("cannot fill the exclusion map (%s)", strerror(-err));
		goto cleanup;
	}
	err = set_syscalls(skel, opt.syscalls);
	if (err)
		goto cleanup;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb) {
		err = -errno;
		die_line("cannot open the ring buffer (%s)", strerror(-err));
		goto cleanup;
	}
	if (opt.control_stdin)
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	emit_ready(ncpus);
	if (opt.verbose)
		fprintf(stderr, "vigil-probe: ready (%d hooks attached)\n", nattached);

	next_stats = clock_ns(CLOCK_MONOTONIC) + (__u64)opt.stats_ms * 1000000ULL;
	while (!stopping && !out_closed) {
		struct pollfd pf[2] = {
			{ .fd = ring_buffer__epoll_fd(rb), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		int n = poll(pf, opt.control_stdin ? 2 : 1, opt.poll_ms);
		__u64 now;

		if (n < 0 && errno != EINTR) {
			err = -errno;
			die_line("poll failed (%s)", strerror(-err));
			break;
		}
		/* producers do not wake us per record: drain whatever is pending on every tick */
		if (ring_buffer__consume(rb) < 0 && errno != EINTR) {
			err = -errno;
			die_line("ring buffer consume failed (%s)", strerror(-err));
			break;
		}
		if (opt.control_stdin && n > 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			if (!read_control(skel))
				break;
		now = clock_ns(CLOCK_MONOTONIC);
		if (opt.stats_ms > 0 && now >= next_stats) {
			emit_stats(skel, ncpus);
			next_stats = now + (__u64)opt.stats_ms * 1000000ULL;
		}
		flush_out();
	}
	if (!out_closed) {
		ring_buffer__consume(rb);
		flush_out();
	}
	err = 0;

cleanup:
	ring_buffer__free(rb);
	for (size_t i = 0; i < NSYSCALLS; i++)
		bpf_link__destroy(links[i]);
	probe__destroy(skel);
	return err < 0 ? -err : err;
}
