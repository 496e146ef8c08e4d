// SPDX-License-Identifier: Apache-2.0
/* The floor of a syscall-exit hook (test/bench/tracepoint-floor.sh): a program that does nothing,
 * attached by bench-attach to one syscall's exit tracepoint. What a loop of that syscall pays with
 * it attached is the price of the hook itself, before any work of the probe's. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tracepoint/syscalls/sys_exit_getppid")
int empty_exit(void *ctx)
{
	return 0;
}
