// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-probe: loads the CO-RE probe, attaches the tracepoints of the requested syscalls, and
 * writes the probe's frames (events.h, FORMAT.md) to stdout in batches.
 *
 *   vigil-probe --syscalls execve,openat,... [--raw-syscalls a,b] [--exclude-pid N]...
 *               [--ringbuf-mb N] [--wakeup-kb N] [--poll-ms N] [--batch-us N] [--stats-ms N]
 *               [--prevent-max N] [--env] [--control-stdin] [-v]
 *
 * ==== Contract ====
 * - Prints one line "vigil-probe: <what is missing / how to fix>" on stderr and exits non-zero
 *   when BTF is missing, privileges are missing or the probe fails to load or attach.
 * - After attaching, writes a VIGIL_CTL_READY frame; every --stats-ms a VIGIL_CTL_STATS frame
 *   with the per-CPU ring-buffer drop counters.
 * - Never reports its own process nor the --exclude-pid tgids.
 * - Exits 0 on SIGTERM/SIGINT, when stdout closes, and (with --control-stdin) on stdin EOF.
 * - A clone-family name may carry ":child" ("clone:child"): only the new task's side is reported.
 * - A wanted syscall without an exit tracepoint on this kernel is observed through the
 *   raw_syscalls/sys_exit fallback (probe/raw-fallback.h); --raw-syscalls names calls observed that
 *   way even though they have one (tests, a broken tracepoint). After every change of the set, one
 *   line "vigil-probe: syscalls observed: N by tracepoint, M by raw_syscalls (names), K missing
 *   (names)" on stderr.
 * - With --control-stdin, reads lines "syscalls a,b,c" (replace the set), "exclude N",
 *   "prevent CGROUP_ID BITS" (arm prevention for a cgroup; BITS 0 disarms) and "prevent-clear",
 *   the kernel filter lines "filter-begin EV", "fname EV DIM BITS HEX", "filter EV off|CLAUSES"
 *   (FORMAT.md "Kernel filters"), and "sync N", answered by a VIGIL_CTL_SYNC frame once every
 *   line before it has been applied.
 *   With every stats frame comes a VIGIL_CTL_PREVENT frame (blocked execs, armed cgroups).
 *
 * ==== Files ====
 * loader.h (the context and every function, in sections) → loader-probe.c (maps and programs)
 * → loader-control.c (the control channel) → loader-output.c (the ring-buffer reader and the
 * output) → this file (the command line and the main loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "loader.h"

/* Set by SIGTERM/SIGINT; the main loop ends at its next tick. */
static volatile sig_atomic_t stopping;

/* --batch-us: the pause between drains of a busy ring, µs (0: none); see run() */
static long batch_us = 1000;

void vp_die_line(const char *fmt, ...)
{
	va_list ap;

	fputs("vigil-probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void on_signal(int sig)
{
	stopping = 1;
}

/* ------------------------------------------------------------------ options */

static void usage(void)
{
	fprintf(stderr,
		"usage: vigil-probe --syscalls a,b,c [--raw-syscalls a,b] [--exclude-pid N]... [--ringbuf-mb N]\n"
		"                   [--wakeup-kb N] [--poll-ms N] [--batch-us N] [--stats-ms N] [--prevent-max N]\n"
		"                   [--env] [--control-stdin] [-v]\n"
		"--raw-syscalls: observe these through the raw_syscalls/sys_exit fallback even where they have a tracepoint\n"
		"--poll-ms: the longest sleep between drains (default 20; a record written into an empty ring wakes the loader)\n"
		"--batch-us: pause between drains of a busy ring, 0-1000000 (default 1000; 0 drains on every wake-up)\n"
		"Writes Vigil wire frames (native-bridge/FORMAT.md) to stdout.\n");
}

static int parse_args(struct vp_opts *opt, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "syscalls", required_argument, 0, 's' }, { "raw-syscalls", required_argument, 0, 'R' },
		{ "exclude-pid", required_argument, 0, 'x' },
		{ "ringbuf-mb", required_argument, 0, 'r' }, { "wakeup-kb", required_argument, 0, 'w' },
		{ "poll-ms", required_argument, 0, 'p' }, { "batch-us", required_argument, 0, 'b' },
		{ "stats-ms", required_argument, 0, 't' },
		{ "prevent-max", required_argument, 0, 'P' }, { "env", no_argument, 0, 'e' }, { "control-stdin", no_argument, 0, 'c' },
		{ "verbose", no_argument, 0, 'v' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:R:x:r:w:p:b:t:P:ecvh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			opt->syscalls = optarg;
			break;
		case 'R':
			opt->raw_syscalls = optarg;
			break;
		case 'x':
			if (opt->nexclude < 64)
				opt->exclude[opt->nexclude++] = (__u32)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			opt->ringbuf_mb = atoi(optarg);
			break;
		case 'w':
			opt->wakeup_kb = atoi(optarg);
			break;
		case 'p':
			opt->poll_ms = atoi(optarg);
			break;
		case 'b': {
			char *end;

			errno = 0;
			batch_us = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || batch_us < 0 || batch_us > 1000000) {
				vp_die_line("--batch-us must be an integer between 0 and 1000000");
				return -EINVAL;
			}
			break;
		}
		case 't':
			opt->stats_ms = atoi(optarg);
			break;
		case 'P':
			opt->prevent_max = atoi(optarg);
			break;
		case 'e':
			opt->env = true;
			break;
		case 'c':
			opt->control_stdin = true;
			break;
		case 'v':
			opt->verbose = true;
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
	if (opt->ringbuf_mb < 1 || opt->ringbuf_mb > 1024 || (opt->ringbuf_mb & (opt->ringbuf_mb - 1))) {
		vp_die_line("--ringbuf-mb must be a power of two between 1 and 1024");
		return -EINVAL;
	}
	if (opt->prevent_max < 1 || opt->prevent_max > 1 << 20) {
		vp_die_line("--prevent-max must be between 1 and 1048576");
		return -EINVAL;
	}
	if (opt->poll_ms < 1)
		opt->poll_ms = 1;
	return 0;
}

/* ------------------------------------------------------------------ main loop */

/*
 * Wake-ups (FORMAT.md "Ring buffer and wake-ups"): the probe wakes this loop for a record written
 * into an empty ring (and past --wakeup-kb pending), and poll() on the ring's map fd reports data
 * that is already there, so a lone event leaves at once. A busy stream would then wake the loop
 * for every few records; instead, when data was found twice within two --batch-us, the loop sleeps
 * --batch-us before it polls again, so it drains a busy ring about once per --batch-us (records
 * written meanwhile find the ring non-empty and wake no one).
 */
static void batch_pause(void)
{
	struct timespec ts = { .tv_sec = batch_us / 1000000, .tv_nsec = (long)(batch_us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stopping)
		;
}

/* Polls the ring buffer (and stdin), drains, applies control lines, writes stats. Returns 0 or -errno. */
static int run(struct vp_ctx *ctx)
{
	const struct vp_opts *opt = ctx->opts;
	__u64 now = vp_clock_ns(CLOCK_MONOTONIC);
	__u64 next_stats = now + (__u64)opt->stats_ms * 1000000ULL;
	__u64 last_data = 0, batch_ns = (__u64)batch_us * 1000ULL;
	int err = 0;

	while (!stopping && !ctx->out.closed) {
		struct pollfd pf[2] = {
			{ .fd = vp_rb_fd(ctx), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		int n = poll(pf, opt->control_stdin ? 2 : 1, opt->poll_ms);
		bool busy = false;
		int got;

		if (n < 0 && errno != EINTR) {
			err = -errno;
			vp_die_line("poll failed (%s)", strerror(-err));
			break;
		}
		/* drain whatever is pending on every tick (the --poll-ms timeout is the backstop) */
		got = vp_rb_consume(ctx);
		if (got < 0 && errno != EINTR) {
			err = -errno;
			vp_die_line("ring buffer consume failed (%s)", strerror(-err));
			break;
		}
		now = vp_clock_ns(CLOCK_MONOTONIC);
		if (got > 0) {
			busy = batch_ns > 0 && last_data != 0 && now - last_data < 2 * batch_ns;
			last_data = now;
		}
		if (opt->control_stdin && n > 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			if (!vp_control_read(ctx))
				break;
		if (opt->stats_ms > 0 && now >= next_stats) {
			vp_emit_stats(ctx);
			next_stats = now + (__u64)opt->stats_ms * 1000000ULL;
		}
		vp_out_flush(ctx);
		if (busy)
			batch_pause();
	}
	if (!ctx->out.closed) {
		vp_rb_consume(ctx);
		vp_out_flush(ctx);
	}
	return err;
}

int main(int argc, char **argv)
{
	struct vp_opts opt = { .ringbuf_mb = 8, .wakeup_kb = 256, .poll_ms = 20, .stats_ms = 1000, .prevent_max = 4096 };
	struct vp_ctx *ctx = NULL;
	int err, ncpus;

	err = parse_args(&opt, argc, argv);
	if (err)
		return -err;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	vp_log_init(opt.verbose);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		vp_die_line("cannot count possible CPUs");
		return 1;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		vp_die_line("out of memory");
		return ENOMEM;
	}
	ctx->opts = &opt;
	ctx->ncpus = ncpus;

	err = vp_probe_load(ctx);
	if (err)
		goto cleanup;
	err = vp_exclude_pid(ctx, (__u32)getpid());
	for (int i = 0; i < opt.nexclude && !err; i++)
		err = vp_exclude_pid(ctx, opt.exclude[i]);
	if (err) {
		vp_die_line("cannot fill the exclusion map (%s)", strerror(-err));
		goto cleanup;
	}
	err = vp_set_syscalls(ctx, opt.syscalls);
	if (err)
		goto cleanup;
	err = vp_rb_open(ctx);
	if (err) {
		vp_die_line("cannot open the ring buffer (%s)", strerror(-err));
		goto cleanup;
	}
	if (opt.control_stdin)
		fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	vp_emit_ready(ctx);
	if (opt.verbose)
		fprintf(stderr, "vigil-probe: ready (%d hooks attached)\n", ctx->nattached);
	/* a failure inside the loop is printed; the exit stays clean, as the agent expects */
	(void)run(ctx);
	err = 0;

cleanup:
	vp_rb_close(ctx);
	vp_probe_destroy(ctx);
	free(ctx);
	return err < 0 ? -err : err;
}
