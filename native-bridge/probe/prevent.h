// SPDX-License-Identifier: Apache-2.0
/* Drift prevention at exec: cgroup policy lookup and SIGKILL.
 * Part of probe.bpf.c, included there in order (one BPF object); not a standalone header. */

#define TMPFS_MAGIC_ 0x01021994
#define SIGKILL_ 9
#define PREVENT_MAX_DEPTH 8

/* The policy bits armed for the current task's cgroup or its nearest armed ancestor. */
static __always_inline __u32 prevent_policy(void)
{
	__u64 id = bpf_get_current_cgroup_id();
	__u32 *p = bpf_map_lookup_elem(&prevent, &id);

	if (p)
		return *p;
	/* nearest ancestor first; level 0 (the root cgroup, every host process) is never armed */
	for (int lvl = PREVENT_MAX_DEPTH; lvl >= 1; lvl--) {
		id = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!id)
			continue;
		p = bpf_map_lookup_elem(&prevent, &id);
		if (p)
			return *p;
	}
	return 0;
}

/* Which VIGIL_PREVENT_* kinds the current task's (new) executable is. */
static __always_inline __u32 drift_kinds(struct task_struct *t)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	struct inode *ino;
	char name[18] = {};
	__u32 kinds = 0;

	if (!exe)
		return 0;
	ino = BPF_CORE_READ(exe, f_inode);
	if (inode_is_upper(ino) == 1)
		kinds |= VIGIL_PREVENT_UPPER;
	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(exe, f_path.dentry, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':') {
		/* runc re-executes itself from a memfd clone ("memfd:runc_cloned:..."): not drift */
		if (!(name[6] == 'r' && name[7] == 'u' && name[8] == 'n' && name[9] == 'c' && name[10] == '_' &&
		      name[11] == 'c' && name[12] == 'l' && name[13] == 'o' && name[14] == 'n' && name[15] == 'e' &&
		      name[16] == 'd'))
			kinds |= VIGIL_PREVENT_MEMFD;
	} else if (BPF_CORE_READ(ino, i_sb, s_magic) == TMPFS_MAGIC_) {
		kinds |= VIGIL_PREVENT_TMPFS;
	}
	return kinds;
}

/*
 * At a successful exec's exit the task already runs the new image but no instruction of it has
 * run: a SIGKILL sent now is delivered on the way back to user space. Returns 1 when the program
 * was killed. Excluded tgids (the agent, the loader) are never killed.
 */
static __always_inline int prevent_exec(long ret)
{
	struct task_struct *t;
	struct prevent_counters *cnt;
	__u32 policy, zero = 0, tgid;

	if (ret != 0)
		return 0;
	policy = prevent_policy();
	if (!policy)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&excluded, &tgid))
		return 0;
	t = (struct task_struct *)bpf_get_current_task_btf();
	if (!(drift_kinds(t) & policy))
		return 0;
	cnt = bpf_map_lookup_elem(&prevent_counters, &zero);
	if (bpf_send_signal(SIGKILL_) != 0) {
		if (cnt)
			cnt->signal_failed++;
		return 0;
	}
	if (cnt)
		cnt->blocked++;
	return 1;
}
