// SPDX-License-Identifier: Apache-2.0
/* Prints the wire structs' field offsets and sizes as "name offset size" lines. */
#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include "events.h"

#define F(s, f) printf("%s.%s %zu %zu\n", #s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f))

int main(void)
{
	printf("vigil_hdr.sizeof %zu %zu\n", sizeof(struct vigil_hdr), sizeof(struct vigil_hdr));
	F(vigil_hdr, size);
	F(vigil_hdr, type);
	F(vigil_hdr, version);
	F(vigil_hdr, flags);
	F(vigil_hdr, ts);
	F(vigil_hdr, pid);
	F(vigil_hdr, tid);
	F(vigil_hdr, ppid);
	F(vigil_hdr, uid);
	F(vigil_hdr, gid);
	F(vigil_hdr, euid);
	F(vigil_hdr, loginuid);
	F(vigil_hdr, cpu);
	F(vigil_hdr, nparams);
	F(vigil_hdr, cgroup_id);
	F(vigil_hdr, start_ts);
	F(vigil_hdr, comm);
	F(vigil_hdr, res);
	F(vigil_ctl_ready, realtime_ns);
	F(vigil_ctl_ready, boottime_ns);
	F(vigil_ctl_ready, ncpus);
	F(vigil_ctl_ready, programs);
	F(vigil_ctl_stats, realtime_ns);
	F(vigil_ctl_stats, boottime_ns);
	F(vigil_ctl_stats, drops);
	F(vigil_ctl_stats, events);
	F(vigil_ctl_stats, frames_out);
	F(vigil_ctl_stats, ncpus);
	F(vigil_ctl_stats, programs);
	F(vigil_ctl_prevent, blocked);
	F(vigil_ctl_prevent, signal_failed);
	F(vigil_ctl_prevent, entries);
	F(vigil_ctl_prevent, map_full);
	printf("vigil_ctl_prevent.sizeof %zu %zu\n", sizeof(struct vigil_ctl_prevent), sizeof(struct vigil_ctl_prevent));
	printf("const VIGIL_F_BLOCKED %d 0\n", VIGIL_F_BLOCKED);
	printf("const VIGIL_CTL_PREVENT %d 0\n", VIGIL_CTL_PREVENT);
	printf("const VIGIL_PREVENT_UPPER %d 0\n", VIGIL_PREVENT_UPPER);
	printf("const VIGIL_PREVENT_MEMFD %d 0\n", VIGIL_PREVENT_MEMFD);
	printf("const VIGIL_PREVENT_TMPFS %d 0\n", VIGIL_PREVENT_TMPFS);
	printf("const VIGIL_HDR_SIZE %d 0\n", VIGIL_HDR_SIZE);
	printf("const VIGIL_WIRE_VERSION %d 0\n", VIGIL_WIRE_VERSION);
	printf("const VIGIL_MAX_FRAME %d 0\n", VIGIL_MAX_FRAME);
	printf("const VIGIL_CTL_READY %d 0\n", VIGIL_CTL_READY);
	printf("const VIGIL_CTL_STATS %d 0\n", VIGIL_CTL_STATS);
	printf("const VIGIL_EV_MAX %d 0\n", VIGIL_EV_MAX);
	printf("const VIGIL_EV_OPENAT %d 0\n", VIGIL_EV_OPENAT);
	printf("const VIGIL_EV_SETREGID %d 0\n", VIGIL_EV_SETREGID);
#define EV(name, code, prog, tp, flags) printf("const EV_%s %d 0\n", name, code);
	VIGIL_EVENTS(EV)
#undef EV
	return 0;
}
