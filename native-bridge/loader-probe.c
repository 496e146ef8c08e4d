// SPDX-License-Identifier: Apache-2.0
/*
 * Maps and programs: the syscall table (Falco event name → event code, program, tracepoint),
 * tracefs, opening, tuning and loading the skeleton, attaching and retuning the tracepoints.
 * The only file that includes the bpftool skeleton.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "probe.skel.h"

/* ------------------------------------------------------------------ syscall table (event-table.h) */

struct sc {
	const char *name; /* Falco event name */
	__u32 code; /* enum vigil_event_type */
	const char *prog; /* program name in probe.bpf.c */
	const char *tp; /* tracefs event under syscalls/, NULL for non-syscall hooks */
	__u32 flags; /* VIGIL_EVF_* */
};

#define SC(name, code, prog, tp, flags) { name, code, prog, tp, flags },
static const struct sc SYSCALLS[] = { VIGIL_EVENTS(SC) };
#undef SC
#define NSYSCALLS (sizeof(SYSCALLS) / sizeof(SYSCALLS[0]))

_Static_assert(NSYSCALLS <= VP_MAX_SYSCALLS, "raise VP_MAX_SYSCALLS in loader.h");

static int find_syscall(const char *name)
{
	for (size_t i = 0; i < NSYSCALLS; i++)
		if (strcmp(SYSCALLS[i].name, name) == 0)
			return (int)i;
	return -1;
}

int vp_syscall_code(const char *name)
{
	int i = find_syscall(name);

	return i < 0 ? -1 : (int)SYSCALLS[i].code;
}

int vp_syscall_flags(const char *name)
{
	int i = find_syscall(name);

	return i < 0 ? 0 : (int)SYSCALLS[i].flags;
}

/* Finds (mounting if needed) tracefs, which libbpf needs to resolve tracepoint ids. */
static int setup_tracefs(struct vp_ctx *ctx)
{
	static const char *roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	struct stat st;

	for (int i = 0; i < 2; i++)
		if (stat(roots[i], &st) == 0 && access(roots[i], F_OK) == 0) {
			char p[256];

			snprintf(p, sizeof(p), "%s/events/syscalls", roots[i]);
			if (stat(p, &st) == 0) {
				ctx->tracefs_root = roots[i];
				return 0;
			}
		}
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 &&
	    access("/sys/kernel/tracing/events/syscalls", F_OK) == 0) {
		ctx->tracefs_root = "/sys/kernel/tracing";
		return 0;
	}
	return -errno ? -errno : -ENOENT;
}

static bool hook_exists(const struct vp_ctx *ctx, const struct sc *s)
{
	char p[256];

	if (!s->tp)
		return true;
	snprintf(p, sizeof(p), "%s/events/syscalls/%s", ctx->tracefs_root, s->tp);
	return access(p, F_OK) == 0;
}

/* ------------------------------------------------------------------ libbpf logging */

/* libbpf's print callback takes no context: what it needs is kept here (vp_log_init). */
static bool log_verbose;
static char last_libbpf_msg[512];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN) {
		va_list aq;

		va_copy(aq, ap);
		vsnprintf(last_libbpf_msg, sizeof(last_libbpf_msg), fmt, aq);
		va_end(aq);
	}
	if (!log_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void vp_log_init(bool verbose)
{
	log_verbose = verbose;
	libbpf_set_print(libbpf_print);
}

/* ------------------------------------------------------------------ load */

int vp_probe_load(struct vp_ctx *ctx)
{
	const struct vp_opts *opt = ctx->opts;
	struct probe *skel;
	int err;

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		vp_die_line("kernel BTF is missing (/sys/kernel/btf/vmlinux): run a kernel built with CONFIG_DEBUG_INFO_BTF=y");
		return -ENOENT;
	}
	err = setup_tracefs(ctx);
	if (err && (err == -EPERM || err == -EACCES) && geteuid() != 0) {
		vp_die_line("permission denied: the kernel probe needs root or the capabilities CAP_BPF, CAP_PERFMON, "
			    "CAP_SYS_RESOURCE and CAP_DAC_READ_SEARCH (tracefs at /sys/kernel/tracing: %s)",
			    strerror(-err));
		return err;
	}
	if (err) {
		vp_die_line("tracefs is not available at /sys/kernel/tracing (%s): mount it with 'mount -t tracefs tracefs /sys/kernel/tracing' as root",
			    strerror(-err));
		return err;
	}
	{
		/* with -v the kernel also reports verifier statistics per program */
		LIBBPF_OPTS(bpf_object_open_opts, oo, .kernel_log_level = opt->verbose ? 4 : 0);

		skel = probe__open_opts(&oo);
	}
	if (!skel) {
		err = -errno;
		vp_die_line("cannot open the eBPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->wakeup_bytes = (__u32)opt->wakeup_kb * 1024;
	skel->rodata->collect_env = opt->env;
	bpf_map__set_max_entries(skel->maps.events, (__u32)opt->ringbuf_mb << 20);
	bpf_map__set_max_entries(skel->maps.scratch_map, (__u32)libbpf_num_possible_cpus());
	bpf_map__set_max_entries(skel->maps.prevent, (__u32)opt->prevent_max);
	for (size_t i = 0; i < NSYSCALLS; i++)
		ctx->available[i] = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog) && hook_exists(ctx, &SYSCALLS[i]);
	/* a program is loaded when one of its hooks exists here (the generic program serves many) */
	for (size_t i = 0; i < NSYSCALLS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog);
		bool used = false;

		for (size_t j = 0; p && j < NSYSCALLS && !used; j++)
			used = ctx->available[j] && strcmp(SYSCALLS[j].prog, SYSCALLS[i].prog) == 0;
		if (p && !used)
			bpf_program__set_autoload(p, false);
	}
	err = probe__load(skel);
	if (err) {
		if (err == -EPERM || (err == -EACCES && geteuid() != 0))
			vp_die_line("permission denied loading the eBPF probe: run as root or grant CAP_BPF, CAP_PERFMON and CAP_SYS_RESOURCE (%s)",
				    strerror(-err));
		else
			vp_die_line("the eBPF probe failed to load (%s)%s%s", strerror(-err),
				    last_libbpf_msg[0] ? ": " : "", last_libbpf_msg);
		probe__destroy(skel);
		return err;
	}
	ctx->skel = skel;
	ctx->maps = (struct vp_maps){
		.events = skel->maps.events,
		.enabled = skel->maps.enabled,
		.excluded = skel->maps.excluded,
		.counters = skel->maps.counters,
		.prevent = skel->maps.prevent,
		.prevent_counters = skel->maps.prevent_counters,
		.filters = skel->maps.filters,
		.filter_names = skel->maps.filter_names,
		.fname_hints = skel->maps.fname_hints,
	};
	return 0;
}

/* ------------------------------------------------------------------ attach / retune */

int vp_set_syscalls(struct vp_ctx *ctx, const char *list)
{
	__u8 want[NSYSCALLS] = { 0 };
	char *copy = strdup(list ? list : ""), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \n", &save); tok; tok = strtok_r(NULL, ", \n", &save)) {
		/* "clone:child": only the child's side of a clone-family call (the agent's state needs it;
		 * no rule does) */
		char *suffix = strchr(tok, ':');
		__u8 value = VIGIL_ON;
		int i;

		if (suffix) {
			*suffix++ = 0;
			if (strcmp(suffix, "child") == 0)
				value = VIGIL_ON_CHILD;
			else
				fprintf(stderr, "vigil-probe: warning: unknown qualifier ':%s' of '%s' ignored\n", suffix, tok);
		}
		i = find_syscall(tok);

		if (i < 0)
			fprintf(stderr, "vigil-probe: warning: unknown syscall '%s' ignored\n", tok);
		else if (!ctx->available[i])
			fprintf(stderr, "vigil-probe: warning: syscall '%s' has no tracepoint on this kernel\n", tok);
		else if (value == VIGIL_ON_CHILD && !(SYSCALLS[i].flags & VIGIL_EVF_CLONE)) {
			fprintf(stderr, "vigil-probe: warning: ':child' applies to the clone family only; '%s' taken whole\n", tok);
			want[i] = VIGIL_ON;
		} else
			want[i] = value;
	}
	free(copy);
	for (size_t i = 0; i < NSYSCALLS; i++) {
		__u32 code = SYSCALLS[i].code;
		__u8 on = want[i];

		if (want[i] && !ctx->links[i]) {
			struct bpf_program *p = bpf_object__find_program_by_name(ctx->skel->obj, SYSCALLS[i].prog);
			/* by tracepoint name: one program may serve several calls (exit_generic) */
			struct bpf_link *l = !p ? NULL
					 : SYSCALLS[i].tp ? bpf_program__attach_tracepoint(p, "syscalls", SYSCALLS[i].tp)
							  : bpf_program__attach(p);

			if (!l) {
				err = -errno;
				vp_die_line("cannot attach the %s hook (%s)", SYSCALLS[i].name, strerror(-err));
				return err;
			}
			ctx->links[i] = l;
			ctx->nattached++;
		}
		bpf_map__update_elem(ctx->maps.enabled, &code, sizeof(code), &on, sizeof(on), BPF_ANY);
		if (!want[i] && ctx->links[i]) {
			bpf_link__destroy(ctx->links[i]);
			ctx->links[i] = NULL;
			ctx->nattached--;
		}
	}
	return err;
}

void vp_probe_destroy(struct vp_ctx *ctx)
{
	for (size_t i = 0; i < NSYSCALLS; i++) {
		bpf_link__destroy(ctx->links[i]);
		ctx->links[i] = NULL;
	}
	probe__destroy(ctx->skel);
	ctx->skel = NULL;
}
