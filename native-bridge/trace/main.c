// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-trace: Vigil's syscall source where eBPF is not allowed (AWS Fargate, ECS on Fargate).
 *
 *   vigil-trace [--socket PATH] [--syscalls a,b,c] [--buffer-kb N] [-v] -- CMD [ARGS...]
 *
 * ==== Contract ====
 * - Runs CMD (looked up in PATH) as its child under ptrace + seccomp and follows every process
 *   and thread it starts; reports the requested syscalls (Falco event names, `procexit`
 *   included) as vigil-probe frames on the unix stream socket PATH (the agent listens there).
 * - Exits with CMD's exit code (128+N when CMD dies of signal N); 127 when CMD is not found,
 *   126 when it cannot be started or traced. Remaining descendants are killed with it, as a
 *   container's are when its main process ends.
 * - Forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to CMD.
 * - Never blocks CMD on the agent: without the socket, frames wait in a bounded buffer
 *   (--buffer-kb, default 4096) and the overflow is dropped and counted; on (re)connection a
 *   VIGIL_CTL_STATS frame reports the drops (the gap).
 * - Defaults come from VIGIL_TRACE_SOCKET and VIGIL_TRACE_SYSCALLS when the flags are absent.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "trace.h"

#define DEFAULT_SOCKET "/var/run/vigil/trace.sock"
#define DEFAULT_SYSCALLS                                                                                  \
	"execve,execveat,clone,clone3,fork,vfork,procexit,open,openat,openat2,creat,connect,accept,accept4," \
	"unlink,unlinkat,rename,renameat,renameat2,setuid,setgid,setresuid,ptrace,memfd_create,mount,"         \
	"init_module,finit_module,chmod,fchmodat"

static void on_signal(int sig)
{
	trace_forward_signal(sig);
}

static void on_alarm(int sig)
{
	(void)sig; /* only interrupts waitpid so buffered frames get pumped */
}

static void usage(FILE *f)
{
	fputs("usage: vigil-trace [--socket PATH] [--syscalls a,b,c] [--buffer-kb N] [-v] -- CMD [ARGS...]\n", f);
}

static int parse_syscalls(const char *list, struct trace_opts *o)
{
	char *dup = strdup(list), *save = NULL;
	int n = 0;

	if (!dup)
		return -1;
	for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct trace_sc *s;

		while (*tok == ' ')
			tok++;
		if (strcmp(tok, "procexit") == 0) {
			o->want[VIGIL_EV_PROCEXIT] = true;
			n++;
			continue;
		}
		s = sc_by_name(tok);
		if (!s) {
			if (o->verbose)
				fprintf(stderr, "vigil-trace: syscall %s is not traced (unknown here)\n", tok);
			continue;
		}
		o->want[s->code] = true;
		n++;
	}
	free(dup);
	return n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "syscalls", required_argument, NULL, 'S' },
		{ "buffer-kb", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trace_opts o;
	const char *sock = getenv("VIGIL_TRACE_SOCKET");
	const char *scs = getenv("VIGIL_TRACE_SYSCALLS");
	long buffer_kb = 4096;
	int c;
	struct sigaction sa;
	struct itimerval it = { { 0, 50000 }, { 0, 50000 } };
	static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

	trace_start_realtime_ns = realtime_ns();
	memset(&o, 0, sizeof(o));
	/* "+": stop at the first non-option, so CMD's own flags are never ours */
	while ((c = getopt_long(argc, argv, "+vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'S':
			scs = optarg;
			break;
		case 'b': {
			char *end;

			buffer_kb = strtol(optarg, &end, 10);
			if (*end || buffer_kb < 64 || buffer_kb > 1024 * 1024) {
				fprintf(stderr, "vigil-trace: --buffer-kb must be between 64 and 1048576\n");
				return 2;
			}
			break;
		}
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	if (strlen(sock) >= 108) {
		fprintf(stderr, "vigil-trace: --socket path longer than 107 bytes\n");
		return 2;
	}
	if (!scs || !*scs)
		scs = DEFAULT_SYSCALLS;
	c = parse_syscalls(scs, &o);
	if (c < 0)
		return 126;
	out_set_programs((__u32)c);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waitpid returns to pump output */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++)
		sigaction(fwd[i], &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	out_init(sock, (size_t)buffer_kb * 1024, o.verbose);
	out_pump();
	setitimer(ITIMER_REAL, &it, NULL);
	c = trace_run(argv + optind, &o);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	out_flush_final(1000);
	if (o.verbose) {
		const struct out_stats *st = out_get_stats();

		fprintf(stderr, "vigil-trace: frames=%llu sent=%llu dropped=%llu connects=%llu exit=%d\n",
			(unsigned long long)st->frames, (unsigned long long)st->sent, (unsigned long long)st->dropped,
			(unsigned long long)st->connects, c);
	}
	return c;
}
