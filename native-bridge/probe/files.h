// SPDX-License-Identifier: Apache-2.0
/* File syscall programs (open family, rename, unlink, mkdir, link, chmod, chown, truncate...).
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

/* The saved user registers, BTF-typed: the open programs read their arguments with direct loads
 * (PT_REGS_PARMn_SYSCALL), not a probe-read call each. */
static __always_inline struct pt_regs *cur_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs((struct task_struct *)bpf_get_current_task_btf());
}

EXIT_PROG(open)
{
	struct pt_regs *r = cur_regs();

	if (!open_wanted(VIGIL_EV_OPEN, ctx->ret, (__u32)PT_REGS_PARM2_SYSCALL(r), PT_REGS_PARM1_SYSCALL(r)))
		return 0;
	BEGIN(VIGIL_EV_OPEN);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(openat)
{
	struct pt_regs *r = cur_regs();

	if (!open_wanted(VIGIL_EV_OPENAT, ctx->ret, (__u32)PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM2_SYSCALL(r)))
		return 0;
	BEGIN(VIGIL_EV_OPENAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_u32(&e, arg(&e, 3));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(openat2)
{
	struct pt_regs *r = cur_regs();
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_SYSCALL(r));
	if (!open_wanted(VIGIL_EV_OPENAT2, ctx->ret, (__u32)how.flags, PT_REGS_PARM2_SYSCALL(r)))
		return 0;
	BEGIN(VIGIL_EV_OPENAT2);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, (__u32)how.flags);
	put_u32(&e, (__u32)how.mode);
	put_u64(&e, how.resolve);
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(creat)
{
	BEGIN(VIGIL_EV_CREAT);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_dev_ino(&e, ret);
	put_fdinfo(&e, ret);
	return ev_send(&e);
}

EXIT_PROG(close)
{
	BEGIN(VIGIL_EV_CLOSE);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	return ev_send(&e);
}

/* path, path */
#define PROG_PP(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_ustr(&e, (void *)arg(&e, 1));     \
		return ev_send(&e);                   \
	}
PROG_PP(rename, VIGIL_EV_RENAME)
PROG_PP(link, VIGIL_EV_LINK)
PROG_PP(symlink, VIGIL_EV_SYMLINK)

/* path */
#define PROG_P(name, type)                            \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		return ev_send(&e);                   \
	}
PROG_P(unlink, VIGIL_EV_UNLINK)
PROG_P(rmdir, VIGIL_EV_RMDIR)
PROG_P(chdir, VIGIL_EV_CHDIR)

/* path, mode */
#define PROG_PM(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_u32(&e, arg(&e, 1));              \
		return ev_send(&e);                   \
	}
PROG_PM(mkdir, VIGIL_EV_MKDIR)
PROG_PM(chmod, VIGIL_EV_CHMOD)

/* dirfd, path, u32 */
#define PROG_DPU(name, type)                          \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_ustr(&e, (void *)arg(&e, 1));     \
		put_u32(&e, arg(&e, 2));              \
		return ev_send(&e);                   \
	}
PROG_DPU(unlinkat, VIGIL_EV_UNLINKAT)
PROG_DPU(mkdirat, VIGIL_EV_MKDIRAT)
PROG_DPU(fchmodat, VIGIL_EV_FCHMODAT)

EXIT_PROG(renameat)
{
	BEGIN(VIGIL_EV_RENAMEAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u64(&e, (__s64)(int)arg(&e, 2));
	put_ustr(&e, (void *)arg(&e, 3));
	return ev_send(&e);
}

/* olddirfd, oldpath, newdirfd, newpath, flags */
#define PROG_DPDPU(name, type)                        \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_ustr(&e, (void *)arg(&e, 1));     \
		put_u64(&e, (__s64)(int)arg(&e, 2));  \
		put_ustr(&e, (void *)arg(&e, 3));     \
		put_u32(&e, arg(&e, 4));              \
		return ev_send(&e);                   \
	}
PROG_DPDPU(renameat2, VIGIL_EV_RENAMEAT2)
PROG_DPDPU(linkat, VIGIL_EV_LINKAT)

EXIT_PROG(symlinkat)
{
	BEGIN(VIGIL_EV_SYMLINKAT);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u64(&e, (__s64)(int)arg(&e, 1));
	put_ustr(&e, (void *)arg(&e, 2));
	return ev_send(&e);
}

/* fd, u32 (+ fd info) */
#define PROG_FU(name, type)                           \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_u64(&e, (__s64)(int)arg(&e, 0));  \
		put_u32(&e, arg(&e, 1));              \
		put_fdinfo(&e, (int)arg(&e, 0));      \
		return ev_send(&e);                   \
	}
PROG_FU(fchmod, VIGIL_EV_FCHMOD)

/* path, uid, gid */
#define PROG_PUG(name, type)                          \
	EXIT_PROG(name)                               \
	{                                             \
		BEGIN(type);                          \
		put_ustr(&e, (void *)arg(&e, 0));     \
		put_u32(&e, arg(&e, 1));              \
		put_u32(&e, arg(&e, 2));              \
		return ev_send(&e);                   \
	}
PROG_PUG(chown, VIGIL_EV_CHOWN)
PROG_PUG(lchown, VIGIL_EV_LCHOWN)

EXIT_PROG(fchown)
{
	BEGIN(VIGIL_EV_FCHOWN);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u32(&e, arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(fchownat)
{
	BEGIN(VIGIL_EV_FCHOWNAT);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_ustr(&e, (void *)arg(&e, 1));
	put_u32(&e, arg(&e, 2));
	put_u32(&e, arg(&e, 3));
	put_u32(&e, arg(&e, 4));
	return ev_send(&e);
}

EXIT_PROG(truncate)
{
	BEGIN(VIGIL_EV_TRUNCATE);
	put_ustr(&e, (void *)arg(&e, 0));
	put_u64(&e, arg(&e, 1));
	return ev_send(&e);
}

EXIT_PROG(ftruncate)
{
	BEGIN(VIGIL_EV_FTRUNCATE);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_u64(&e, arg(&e, 1));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}

EXIT_PROG(fchdir)
{
	BEGIN(VIGIL_EV_FCHDIR);
	put_u64(&e, (__s64)(int)arg(&e, 0));
	put_fdinfo(&e, (int)arg(&e, 0));
	return ev_send(&e);
}
