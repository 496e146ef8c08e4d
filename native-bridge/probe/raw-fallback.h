/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fallback for syscalls without an exit tracepoint of their own (FORMAT.md "Syscalls without a
 * tracepoint"): some kernels build no sys_exit_<name> event for a call (on 6.18 here:
 * init_module, finit_module, delete_module, kexec_file_load), and a tracepoint may be broken.
 *
 * One program on raw_syscalls/sys_exit, which fires on every syscall exit, routes by syscall
 * number to the same per-syscall program through bpf_tail_call and the raw_progs program array.
 * The loader attaches it only while some wanted call is served this way and fills raw_progs[nr]
 * only for those calls: any other number finds an empty slot, the tail call falls through and
 * the program returns at once. A tracepoint-observed call never has a slot, so no event is
 * reported twice.
 *
 * The records agree: raw_syscalls/sys_exit is { common 8 bytes, long id @8, long ret @16 }, a
 * per-syscall exit record { common, int __syscall_nr @8, long ret @16 }; on a little-endian
 * machine the int at 8 is the low half of id, which is all a syscall number holds, so the
 * per-syscall programs (exit_generic reads ctx->nr) run unchanged on the raw record.
 *
 * Compat (32-bit) tasks are skipped here, as the kernel skips them for the per-syscall
 * tracepoints (ARCH_TRACE_IGNORE_COMPAT_SYSCALLS): their numbers are another table.
 */
#ifndef VIGIL_PROBE_RAW_FALLBACK_H
#define VIGIL_PROBE_RAW_FALLBACK_H

/* Syscall numbers the program array covers (x86_64 and arm64 stay below; same as the generic table). */
#define VIGIL_RAW_NR_LIMIT 512
/* x86 thread_info.status: the task is in a 32-bit syscall (int 0x80 or a compat process). */
#define TS_COMPAT_ 0x0002
/* arm64 pstate: the task runs AArch32 code. */
#define PSR_MODE32_BIT_ 0x10

struct raw_exit_args {
	__u64 common;
	long id;
	long ret;
};

/* syscall number → the per-syscall program serving it (filled by the loader, loader-probe.c). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, VIGIL_RAW_NR_LIMIT);
	__type(key, __u32);
	__type(value, __u32);
} raw_progs SEC(".maps");

static __always_inline int raw_task_is_compat(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();

	return (t->thread_info.status & TS_COMPAT_) != 0;
#else
	struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(t);

	return (BPF_CORE_READ(__PT_REGS_CAST(r), pstate) & PSR_MODE32_BIT_) != 0;
#endif
}

SEC("tracepoint/raw_syscalls/sys_exit")
int raw_sys_exit(struct raw_exit_args *ctx)
{
	long id = ctx->id;

	/* negative: no syscall (a ptrace/seccomp skip); x32 numbers (bit 30) are past the limit too */
	if (id < 0 || id >= VIGIL_RAW_NR_LIMIT)
		return 0;
	if (raw_task_is_compat())
		return 0;
	bpf_tail_call(ctx, &raw_progs, (__u32)id);
	/* empty slot: the call is not served by the fallback */
	return 0;
}

#endif /* VIGIL_PROBE_RAW_FALLBACK_H */
