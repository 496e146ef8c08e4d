// SPDX-License-Identifier: Apache-2.0
/*
 * The ptrace loop. The workload starts stopped, is seized with
 * TRACESECCOMP|TRACEFORK|TRACEVFORK|TRACECLONE|TRACEEXEC|EXITKILL|TRACESYSGOOD, then installs a
 * seccomp filter returning SECCOMP_RET_TRACE for the wanted syscalls only (every other syscall
 * runs at full speed) and execs. A traced syscall costs two stops: the seccomp stop at entry
 * (arguments saved) and the syscall-exit stop (result; the frame is built and queued).
 * New threads and processes are followed automatically; exits come from wait status.
 *
 * Per-thread state lives in an open-addressing table keyed by tid.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "trace.h"

#if defined(__x86_64__)
#define TRACE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TRACE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "vigil-trace supports x86_64 and aarch64"
#endif

#define MAX_NR 1024
#define X32_BIT 0x40000000
#define TABLE_SIZE 16384 /* threads followed at once (power of two) */
#define F_DUPFD_ 0
#define F_DUPFD_CLOEXEC_ 1030

struct thr {
	pid_t tid; /* 0 = empty, -1 = deleted */
	pid_t pid;
	bool seen; /* its first stop was handled */
	bool in_sc; /* between the seccomp stop and the syscall-exit stop */
	bool birth_known; /* the parent's fork event was seen */
	bool birth_sent;
	__u16 birth_type;
	__u64 birth_flags;
	const struct trace_sc *sc;
	__u64 args[6];
	struct procfacts pf;
};

static struct thr table[TABLE_SIZE];
static const struct trace_sc *by_nr[MAX_NR];
static const struct trace_opts *opts;
static struct frame fr;
static volatile pid_t main_child;
static __u64 untracked_threads;

/* ---------------------------------------------------------------- thread table */

static unsigned slot_of(pid_t tid)
{
	return ((unsigned)tid * 2654435761u) & (TABLE_SIZE - 1);
}

static struct thr *find(pid_t tid)
{
	unsigned i = slot_of(tid);

	for (unsigned n = 0; n < TABLE_SIZE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		if (table[i].tid == tid)
			return &table[i];
		if (table[i].tid == 0)
			return NULL;
	}
	return NULL;
}

static struct thr *add(pid_t tid)
{
	unsigned i = slot_of(tid);
	struct thr *t = find(tid);

	if (t)
		return t;
	for (unsigned n = 0; n < TABLE_SIZE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		if (table[i].tid <= 0) {
			memset(&table[i], 0, sizeof(table[i]));
			table[i].tid = tid;
			table[i].pid = tid;
			return &table[i];
		}
	}
	untracked_threads++;
	return NULL;
}

static void drop(struct thr *t)
{
	t->tid = -1;
}

/* ---------------------------------------------------------------- seccomp filter */

/* A tiny assembler: jumps name their targets, offsets are resolved at the end. */
enum { L_NONE = -1, L_TRACE = -2, L_ALLOW = -3, L_COMPAT = -4 };
struct asm_insn {
	struct sock_filter f;
	int jt, jf;
};

static bool compat_wanted(const struct trace_opts *o, const struct compat_sc *c)
{
	if (c->nr == COMPAT_SOCKETCALL)
		return o->want[VIGIL_EV_CONNECT] || o->want[VIGIL_EV_ACCEPT] || o->want[VIGIL_EV_ACCEPT4] ||
		       o->want[VIGIL_EV_BIND] || o->want[VIGIL_EV_LISTEN] || o->want[VIGIL_EV_SOCKET];
	return o->want[c->code];
}

static int install_filter(const struct trace_opts *o)
{
	static struct asm_insn a[2 * MAX_NR + 32];
	struct sock_filter f[2 * MAX_NR + 32];
	int n = 0, idx_trace, idx_allow, idx_compat = -1;
	struct sock_fprog prog;

#define STMT(code, k) (a[n++] = (struct asm_insn){ BPF_STMT(code, k), L_NONE, L_NONE })
#define JUMP(code, k, t, fl) (a[n++] = (struct asm_insn){ BPF_JUMP(code, k, 0, 0), t, fl })
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, TRACE_AUDIT_ARCH, L_NONE, trace_ncompat ? L_COMPAT : L_ALLOW);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	/* x32 ABI (if the kernel has it): numbers with bit 30; rare enough to stop on all of them */
	JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, L_TRACE, L_NONE);
#endif
	for (size_t i = 0; i < trace_nsyscalls; i++) {
		const struct trace_sc *s = &trace_syscalls[i];

		if (o->want[s->code] && s->code != VIGIL_EV_FCNTL)
			JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)s->nr, L_TRACE, L_NONE);
	}
	if (o->want[VIGIL_EV_FCNTL]) {
		/* fcntl only matters in its dup forms: the rest never stops */
		const struct trace_sc *s = sc_by_code(VIGIL_EV_FCNTL);

		JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)s->nr, L_NONE, L_ALLOW);
		STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_DUPFD_, L_TRACE, L_NONE);
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_DUPFD_CLOEXEC_, L_TRACE, L_NONE);
	}
	if (trace_ncompat) {
		/* native syscalls that matched nothing skip the compat block */
		JUMP(BPF_JMP | BPF_JA | BPF_K, 0, L_ALLOW, L_NONE);
		idx_compat = n;
		STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		for (size_t i = 0; i < trace_ncompat; i++)
			if (compat_wanted(o, &trace_compat[i]))
				JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)trace_compat[i].nr, L_TRACE, L_NONE);
	}
	idx_allow = n;
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	idx_trace = n;
	STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
#undef STMT
#undef JUMP
	/* every jump goes forward (classic BPF has no backward jumps) */
	for (int i = 0; i < n; i++) {
		int t[2] = { a[i].jt, a[i].jf };

		f[i] = a[i].f;
		if (BPF_CLASS(f[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(f[i].code) == BPF_JA) {
			f[i].k = (__u32)(idx_allow - (i + 1));
			continue;
		}
		for (int k = 0; k < 2; k++) {
			int target = t[k] == L_TRACE ? idx_trace : t[k] == L_ALLOW ? idx_allow : t[k] == L_COMPAT ? idx_compat : i + 1;
			int off = target - (i + 1);

			if (off < 0 || off > 255)
				return -E2BIG; /* cannot happen with the table sizes above */
			if (k == 0)
				f[i].jt = (__u8)off;
			else
				f[i].jf = (__u8)off;
		}
	}
	prog.len = (unsigned short)n;
	prog.filter = f;
	/*
	 * SPEC_ALLOW: a filter would otherwise force speculative-store-bypass mitigation on the
	 * workload, slowing all of its code, not only syscalls; it keeps the mitigation it had.
	 * Without CAP_SYS_ADMIN a filter needs no_new_privs (setuid binaries then lose their bit).
	 */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) == 0)
		return 0;
	if (errno == EINVAL && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, &prog) == 0)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		return -errno;
	return 0;
}

/* ---------------------------------------------------------------- frames */

static void facts(struct thr *t)
{
	if (proc_facts(t->pid, t->tid, &t->pf) != 0)
		t->pf.valid = false;
}

static void send_frame(void)
{
	frame_end(&fr);
	out_frame(fr.buf, fr.off);
}

static __u16 clone_type_for_event(int ev)
{
	switch (ev) {
	case PTRACE_EVENT_FORK:
		return VIGIL_EV_FORK;
	case PTRACE_EVENT_VFORK:
		return VIGIL_EV_VFORK;
	default:
		return VIGIL_EV_CLONE;
	}
}

/* The clone-family event as the new child sees it (res 0, VIGIL_F_CHILD). */
static void emit_birth(struct thr *c)
{
	if (c->birth_sent || !c->birth_known || !c->seen)
		return;
	c->birth_sent = true;
	if (!opts->want[c->birth_type])
		return;
	frame_begin(&fr, c->birth_type, c->pid, c->tid, &c->pf, 0);
	fr.flags |= VIGIL_F_CHILD;
	put_proc_block(&fr, c->pid, c->tid);
	put_u64(&fr, c->birth_flags);
	send_frame();
}

static __u64 clone_flags(struct thr *t)
{
	__u64 fl = 0;

	switch (t->sc ? t->sc->code : 0) {
	case VIGIL_EV_CLONE:
		return t->args[0];
	case VIGIL_EV_CLONE3:
		mem_read(t->pid, t->args[0], &fl, sizeof(fl));
		return fl;
	case VIGIL_EV_VFORK:
		return 0x4000 | 0x100;
	default:
		return 0;
	}
}

static void emit_exit(struct thr *t, __s64 ret)
{
	const struct trace_sc *s = t->sc;

	if (s->code == VIGIL_EV_FCNTL && t->args[1] != F_DUPFD_ && t->args[1] != F_DUPFD_CLOEXEC_)
		return;
	if (s->code == VIGIL_EV_EXECVE || s->code == VIGIL_EV_EXECVEAT || s->code >= VIGIL_EV_SETUID)
		facts(t); /* a new image or new credentials */
	if (!t->pf.valid)
		facts(t);
	frame_begin(&fr, s->code, t->pid, t->tid, &t->pf, ret);
	switch (s->code) {
	case VIGIL_EV_EXECVEAT:
		put_proc_block(&fr, t->pid, t->tid);
		if (ret == 0) {
			put_none(&fr);
			put_none(&fr);
		} else {
			put_u64(&fr, (__u64)(__s64)(int)t->args[0]);
			put_ustr(&fr, t->pid, t->args[1]);
		}
		break;
	case VIGIL_EV_CLONE:
	case VIGIL_EV_CLONE3:
	case VIGIL_EV_FORK:
	case VIGIL_EV_VFORK:
		put_proc_block(&fr, t->pid, t->tid);
		put_u64(&fr, clone_flags(t));
		break;
	default:
		put_spec(&fr, s->spec, t->pid, t->tid, t->args, ret);
	}
	send_frame();
}

static void emit_procexit(struct thr *t, int status)
{
	if (!opts->want[VIGIL_EV_PROCEXIT])
		return;
	frame_begin(&fr, VIGIL_EV_PROCEXIT, t->pid, t->tid, &t->pf, 0);
	put_u64(&fr, (__u64)(__s64)status);
	put_u64(&fr, (__u64)(__s64)((status >> 8) & 0xff));
	put_u32(&fr, (__u32)(status & 0x7f));
	put_u32(&fr, (status & 0x80) ? 1 : 0);
	put_none(&fr);
	send_frame();
}

/* ---------------------------------------------------------------- the loop */

static void resume(struct thr *t, pid_t tid, int sig)
{
	ptrace(t && t->in_sc ? PTRACE_SYSCALL : PTRACE_CONT, tid, 0, (void *)(long)sig);
}

/* The syscall behind a seccomp stop, whatever the ABI the workload used. */
static const struct trace_sc *resolve_sc(struct thr *t, __u32 arch, __u64 nr)
{
	if (arch == TRACE_AUDIT_ARCH) {
#if defined(__x86_64__)
		if (nr & X32_BIT) {
			nr &= ~(__u64)X32_BIT;
			if (nr == 520) /* x32 execve */
				return opts->want[VIGIL_EV_EXECVE] ? sc_by_code(VIGIL_EV_EXECVE) : NULL;
			if (nr == 545) /* x32 execveat */
				return opts->want[VIGIL_EV_EXECVEAT] ? sc_by_code(VIGIL_EV_EXECVEAT) : NULL;
		}
#endif
		return nr < MAX_NR ? by_nr[nr] : NULL;
	}
	for (size_t i = 0; i < trace_ncompat; i++) {
		const struct compat_sc *c = &trace_compat[i];
		__u32 a[6] = { 0 };
		__u16 code = 0;

		if ((__u64)c->nr != nr)
			continue;
		if (c->nr != COMPAT_SOCKETCALL)
			return opts->want[c->code] ? sc_by_code(c->code) : NULL;
		/* socketcall(call, args*): the real arguments are 32-bit words in memory */
		switch (t->args[0]) {
		case 1:
			code = VIGIL_EV_SOCKET;
			break;
		case 2:
			code = VIGIL_EV_BIND;
			break;
		case 3:
			code = VIGIL_EV_CONNECT;
			break;
		case 4:
			code = VIGIL_EV_LISTEN;
			break;
		case 5:
			code = VIGIL_EV_ACCEPT;
			break;
		case 18:
			code = VIGIL_EV_ACCEPT4;
			break;
		default:
			return NULL;
		}
		if (!opts->want[code] || mem_read(t->pid, t->args[1], a, sizeof(a)) <= 0)
			return NULL;
		for (int k = 0; k < 6; k++)
			t->args[k] = a[k];
		return sc_by_code(code);
	}
	return NULL;
}

static void on_seccomp(struct thr *t)
{
	struct __ptrace_syscall_info info;
	long n = ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), &info);

	t->in_sc = false;
	if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_SECCOMP)
		return;
	memcpy(t->args, info.seccomp.args, sizeof(t->args));
	t->sc = resolve_sc(t, info.arch, info.seccomp.nr);
	if (t->sc)
		t->in_sc = true;
}

static void on_syscall_stop(struct thr *t)
{
	struct __ptrace_syscall_info info;
	long n;

	if (!t->in_sc)
		return;
	n = ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, (void *)sizeof(info), &info);
	if (n <= 0 || info.op != PTRACE_SYSCALL_INFO_EXIT)
		return; /* an entry stop: keep waiting for the exit */
	t->in_sc = false;
	emit_exit(t, info.exit.rval);
}

static void on_new_child(struct thr *parent, int ev)
{
	unsigned long msg = 0;
	struct thr *c;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, 0, &msg) != 0)
		return;
	c = add((pid_t)msg);
	if (!c)
		return;
	if (!c->seen) /* else its own first stop already read its tgid */
		c->pid = ev == PTRACE_EVENT_CLONE && parent->in_sc && (clone_flags(parent) & CLONE_THREAD) ? parent->pid : (pid_t)msg;
	c->birth_type = parent->in_sc && parent->sc &&
					(parent->sc->code == VIGIL_EV_CLONE || parent->sc->code == VIGIL_EV_CLONE3 ||
					 parent->sc->code == VIGIL_EV_FORK || parent->sc->code == VIGIL_EV_VFORK) ?
				parent->sc->code :
				clone_type_for_event(ev);
	c->birth_flags = parent->in_sc ? clone_flags(parent) : (ev == PTRACE_EVENT_VFORK ? 0x4100 : 0);
	c->birth_known = true;
	emit_birth(c);
}

static void on_exec(struct thr *t)
{
	unsigned long former = 0;

	/* a non-leader thread that execs takes over the leader's tid */
	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &former) == 0 && (pid_t)former != t->tid) {
		struct thr *old = find((pid_t)former);

		if (old) {
			t->in_sc = old->in_sc;
			t->sc = old->sc;
			memcpy(t->args, old->args, sizeof(t->args));
			drop(old);
		}
	}
	t->pid = t->tid;
	facts(t);
}

void trace_forward_signal(int sig)
{
	if (main_child > 0)
		kill(main_child, sig);
}

static int status_to_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int trace_run(char **argv, const struct trace_opts *o)
{
	pid_t child;
	int status, main_status = -1;
	unsigned long popts = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
			      PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD;
	int errpipe[2];

	opts = o;
	for (size_t i = 0; i < trace_nsyscalls; i++) {
		const struct trace_sc *s = &trace_syscalls[i];

		if (s->nr >= 0 && s->nr < MAX_NR && o->want[s->code])
			by_nr[s->nr] = s;
	}
	if (pipe2(errpipe, O_CLOEXEC) != 0)
		return 126;

	child = fork();
	if (child < 0) {
		fprintf(stderr, "vigil-trace: fork: %s\n", strerror(errno));
		return 126;
	}
	if (child == 0) {
		int err;

		close(errpipe[0]);
		/* wait to be seized before the filter exists (RET_TRACE without a tracer is ENOSYS) */
		raise(SIGSTOP);
		err = install_filter(o);
		if (err == 0) {
			execvp(argv[0], argv);
			err = -errno;
		}
		if (write(errpipe[1], &err, sizeof(err)) < 0) {
			/* nothing more to say */
		}
		_exit(err == -ENOENT ? 127 : 126);
	}
	close(errpipe[1]);
	main_child = child;
	if (waitpid(child, &status, WSTOPPED) != child || !WIFSTOPPED(status)) {
		fprintf(stderr, "vigil-trace: the workload did not start\n");
		return 126;
	}
	if (ptrace(PTRACE_SEIZE, child, 0, (void *)popts) != 0) {
		fprintf(stderr, "vigil-trace: ptrace(PTRACE_SEIZE): %s (needs CAP_SYS_PTRACE or a ptrace-permitting Yama scope)\n",
			strerror(errno));
		kill(child, SIGKILL);
		return 126;
	}
	{
		struct thr *t = add(child);

		if (t) {
			facts(t);
			t->seen = true;
		}
	}
	kill(child, SIGCONT);

	for (;;) {
		pid_t tid = waitpid(-1, &status, __WALL);
		struct thr *t;
		int sig, ev;

		if (tid < 0) {
			if (errno == EINTR) {
				out_pump();
				continue;
			}
			break; /* ECHILD: nothing left */
		}
		t = find(tid);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (t) {
				if (t->tid == t->pid)
					emit_procexit(t, status);
				drop(t);
			}
			if (tid == child) {
				main_status = status;
				break; /* like a container: the workload's end is the end */
			}
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (!t) {
			t = add(tid);
			if (t)
				facts(t);
		}
		if (t && !t->seen) {
			t->seen = true;
			if (!t->pf.valid)
				facts(t);
			if (t->pf.valid && t->pf.tgid)
				t->pid = (pid_t)t->pf.tgid;
			emit_birth(t);
		}
		sig = WSTOPSIG(status);
		ev = status >> 16;
		switch (ev) {
		case PTRACE_EVENT_SECCOMP:
			if (t)
				on_seccomp(t);
			resume(t, tid, 0);
			break;
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_VFORK:
		case PTRACE_EVENT_CLONE:
			if (t)
				on_new_child(t, ev);
			resume(t, tid, 0);
			break;
		case PTRACE_EVENT_EXEC:
			if (t)
				on_exec(t);
			resume(t, tid, 0);
			break;
		case PTRACE_EVENT_STOP:
			/* group-stop (job control): stay stopped but keep reporting; else a new child or interrupt */
			if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				ptrace(PTRACE_LISTEN, tid, 0, 0);
			else
				resume(t, tid, 0);
			break;
		case 0:
			if (sig == (SIGTRAP | 0x80)) {
				if (t)
					on_syscall_stop(t);
				resume(t, tid, 0);
			} else {
				/* signal-delivery-stop: deliver it */
				resume(t, tid, sig);
			}
			break;
		default:
			resume(t, tid, 0);
		}
	}
	{
		int err = 0;

		if (read(errpipe[0], &err, sizeof(err)) == (ssize_t)sizeof(err) && err != 0)
			fprintf(stderr, "vigil-trace: cannot run %s: %s\n", argv[0], strerror(-err));
		close(errpipe[0]);
	}
	if (opts->verbose && untracked_threads)
		fprintf(stderr, "vigil-trace: %llu threads not followed (table full)\n", (unsigned long long)untracked_threads);
	return main_status == -1 ? 1 : status_to_code(main_status);
}
