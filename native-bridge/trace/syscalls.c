// SPDX-License-Identifier: Apache-2.0
/*
 * The syscalls vigil-trace can report: Falco event name, wire code (../events.h) and the param
 * layout, which matches the kernel probe's program for the same syscall (probe.bpf.c) param for
 * param. Process exits (procexit) need no syscall: they come from wait status. Syscall numbers
 * (VIGIL_NR_*, i386 too) come from ../event-table.h; syscalls an architecture lacks (open,
 * fork... on arm64) are simply absent from its table.
 */
#include <string.h>
#include "trace.h"

#define E(nm, code, spec) { #nm, code, VIGIL_NR_##nm, spec }

const struct trace_sc trace_syscalls[] = {
	/* process life */
	E(execve, VIGIL_EV_EXECVE, "P"),
	E(execveat, VIGIL_EV_EXECVEAT, "P"), /* + dirfd/path on failure: tracer.c */
	E(clone, VIGIL_EV_CLONE, "Pq0"),
	E(clone3, VIGIL_EV_CLONE3, "P"), /* + flags read from struct clone_args: tracer.c */
#ifdef VIGIL_NR_fork
	E(fork, VIGIL_EV_FORK, "P"),
	E(vfork, VIGIL_EV_VFORK, "P"),
#endif
	/* files */
#ifdef VIGIL_NR_open
	E(open, VIGIL_EV_OPEN, "s0u1u2IF"),
	E(creat, VIGIL_EV_CREAT, "s0u1IF"),
	E(rename, VIGIL_EV_RENAME, "s0s1"),
	E(unlink, VIGIL_EV_UNLINK, "s0"),
	E(mkdir, VIGIL_EV_MKDIR, "s0u1"),
	E(rmdir, VIGIL_EV_RMDIR, "s0"),
	E(link, VIGIL_EV_LINK, "s0s1"),
	E(symlink, VIGIL_EV_SYMLINK, "s0s1"),
	E(chmod, VIGIL_EV_CHMOD, "s0u1"),
	E(chown, VIGIL_EV_CHOWN, "s0u1u2"),
	E(lchown, VIGIL_EV_LCHOWN, "s0u1u2"),
	E(dup2, VIGIL_EV_DUP2, "d0d1F"),
#endif
	E(openat, VIGIL_EV_OPENAT, "d0s1u2u3IF"),
	E(openat2, VIGIL_EV_OPENAT2, "d0s1HIF"),
	E(close, VIGIL_EV_CLOSE, "d0"),
#ifdef VIGIL_NR_renameat
	E(renameat, VIGIL_EV_RENAMEAT, "d0s1d2s3"),
#endif
	E(renameat2, VIGIL_EV_RENAMEAT2, "d0s1d2s3u4"),
	E(unlinkat, VIGIL_EV_UNLINKAT, "d0s1u2"),
	E(mkdirat, VIGIL_EV_MKDIRAT, "d0s1u2"),
	E(linkat, VIGIL_EV_LINKAT, "d0s1d2s3u4"),
	E(symlinkat, VIGIL_EV_SYMLINKAT, "s0d1s2"),
	E(fchmod, VIGIL_EV_FCHMOD, "d0u1f0"),
	E(fchmodat, VIGIL_EV_FCHMODAT, "d0s1u2"),
	E(fchown, VIGIL_EV_FCHOWN, "d0u1u2f0"),
	E(fchownat, VIGIL_EV_FCHOWNAT, "d0s1u2u3u4"),
	E(truncate, VIGIL_EV_TRUNCATE, "s0q1"),
	E(ftruncate, VIGIL_EV_FTRUNCATE, "d0q1f0"),
	E(chdir, VIGIL_EV_CHDIR, "s0"),
	E(fchdir, VIGIL_EV_FCHDIR, "d0f0"),
	/* identity */
	E(setuid, VIGIL_EV_SETUID, "u0"),
	E(setgid, VIGIL_EV_SETGID, "u0"),
	E(setreuid, VIGIL_EV_SETREUID, "u0u1"),
	E(setregid, VIGIL_EV_SETREGID, "u0u1"),
	E(setresuid, VIGIL_EV_SETRESUID, "u0u1u2"),
	E(setresgid, VIGIL_EV_SETRESGID, "u0u1u2"),
	E(capset, VIGIL_EV_CAPSET, "C"),
	/* network (tuples from /proc/<pid>/net: sockinfo.c) */
	E(socket, VIGIL_EV_SOCKET, "u0u1u2F"),
	E(connect, VIGIL_EV_CONNECT, "c0d0a1g0"),
	E(accept, VIGIL_EV_ACCEPT, "T-F"),
	E(accept4, VIGIL_EV_ACCEPT4, "T-u3F"),
	E(bind, VIGIL_EV_BIND, "a1d0f0"),
	E(listen, VIGIL_EV_LISTEN, "d0u1f0"),
	E(sendto, VIGIL_EV_SENDTO, "b1d0u2t0f0"),
	/* descriptors */
	E(dup, VIGIL_EV_DUP, "d0F"),
	E(dup3, VIGIL_EV_DUP3, "d0d1u2F"),
	E(fcntl, VIGIL_EV_FCNTL, "d0u1F"), /* only the F_DUPFD forms are sent: tracer.c */
	/* system */
	E(ptrace, VIGIL_EV_PTRACE, "q2q3u0d1"),
	E(mount, VIGIL_EV_MOUNT, "s0s1s2u3"),
	E(umount2, VIGIL_EV_UMOUNT2, "s0u1"),
	E(init_module, VIGIL_EV_INIT_MODULE, "-q1s2"),
	E(finit_module, VIGIL_EV_FINIT_MODULE, "d0s1u2f0"),
	E(memfd_create, VIGIL_EV_MEMFD_CREATE, "s0u1F"),
	E(bpf, VIGIL_EV_BPF, "u0"),
	E(unshare, VIGIL_EV_UNSHARE, "u0"),
	E(setns, VIGIL_EV_SETNS, "d0u1f0"),
};

const size_t trace_nsyscalls = sizeof(trace_syscalls) / sizeof(trace_syscalls[0]);

const struct trace_sc *sc_by_name(const char *name)
{
	for (size_t i = 0; i < trace_nsyscalls; i++)
		if (strcmp(trace_syscalls[i].name, name) == 0)
			return &trace_syscalls[i];
	return NULL;
}

const struct trace_sc *sc_by_nr(int nr)
{
	for (size_t i = 0; i < trace_nsyscalls; i++)
		if (trace_syscalls[i].nr == nr)
			return &trace_syscalls[i];
	return NULL;
}

const struct trace_sc *sc_by_code(__u16 code)
{
	for (size_t i = 0; i < trace_nsyscalls; i++)
		if (trace_syscalls[i].code == code)
			return &trace_syscalls[i];
	return NULL;
}

#if defined(__x86_64__)
/*
 * i386 syscalls (int 0x80 / 32-bit programs) that carry the same params as their 64-bit
 * counterparts: a workload must not evade the rules by switching ABI. socketcall(2) is unpacked
 * by the tracer.
 */
#define C(nr, code) { nr, code },
const struct compat_sc trace_compat[] = {
	VIGIL_I386_EVENTS(C)
	{ COMPAT_SOCKETCALL, 0 },
};
const size_t trace_ncompat = sizeof(trace_compat) / sizeof(trace_compat[0]);
#undef C
#else
const struct compat_sc trace_compat[] = { { -1, 0 } };
const size_t trace_ncompat = 0;
#endif
