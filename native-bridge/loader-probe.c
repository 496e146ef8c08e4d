// SPDX-License-Identifier: Apache-2.0
/*
 * Maps and programs: the syscall table (Falco event name → event code, program, tracepoint),
 * tracefs, opening, tuning and loading the skeleton, attaching and retuning the tracepoints.
 * The only file that includes the bpftool skeleton.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
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

/* Syscall numbers of this architecture by event name (event-table.h), for the raw_syscalls fallback. */
struct sc_nr {
	const char *name;
	int nr;
};

#ifdef VIGIL_NRS
#define NR(name, nr) { name, nr },
static const struct sc_nr SYSCALL_NRS[] = { VIGIL_NRS(NR) };
#undef NR
#define NSYSCALL_NRS (sizeof(SYSCALL_NRS) / sizeof(SYSCALL_NRS[0]))
#else
static const struct sc_nr SYSCALL_NRS[1] = { { "", -1 } };
#define NSYSCALL_NRS 0
#endif

/* The program array's size (probe/raw-fallback.h VIGIL_RAW_NR_LIMIT). */
#define RAW_NR_LIMIT 512

static int syscall_nr(const char *name)
{
	for (size_t i = 0; i < NSYSCALL_NRS; i++)
		if (strcmp(SYSCALL_NRS[i].name, name) == 0)
			return SYSCALL_NRS[i].nr < RAW_NR_LIMIT ? SYSCALL_NRS[i].nr : -1;
	return -1;
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

/*
 * tp_btf hooks (tracepoint NULL in the table): the kernel's BTF must know the tracepoint
 * (btf_trace_<name>), or loading the whole object fails. io_uring's submit tracepoint was named
 * io_uring_submit_sqe before Linux 6.5, with the same argument (the request): the program is
 * retargeted there. False: this kernel has neither (io_uring compiled out).
 */
static bool btf_hook_usable(struct bpf_program *p, const struct btf *vmlinux)
{
	const char *sec = bpf_program__section_name(p), *tp;
	char name[160];

	if (!sec || strncmp(sec, "tp_btf/", 7) != 0 || !vmlinux)
		return true;
	tp = sec + 7;
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) >= 0)
		return true;
	if (strcmp(tp, "io_uring_submit_req") == 0 &&
	    btf__find_by_name_kind(vmlinux, "btf_trace_io_uring_submit_sqe", BTF_KIND_TYPEDEF) >= 0)
		return bpf_program__set_attach_target(p, 0, "io_uring_submit_sqe") == 0;
	return false;
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

/*
 * Marks the calls without a tracepoint that this kernel does not implement: their entry point is
 * only the weak ENOSYS stub (kallsyms type 'W', or no symbol at all), as for init_module and
 * finit_module on a kernel built without module support. Such a call can do nothing but fail with
 * ENOSYS, so the fallback (a program on every syscall exit of the node) is not attached for it
 * unless --raw-syscalls names it. Unreadable kallsyms: nothing is marked (the fallback serves all).
 */
static void mark_stubs(struct vp_ctx *ctx)
{
#if defined(__x86_64__)
	static const char prefix[] = "__x64_sys_";
#elif defined(__aarch64__)
	static const char prefix[] = "__arm64_sys_";
#else
	static const char prefix[] = "";
#endif
	bool need = false, seen[VP_MAX_SYSCALLS] = { 0 };
	char line[512];
	FILE *f;

	for (size_t i = 0; i < NSYSCALLS; i++)
		need |= SYSCALLS[i].tp && !ctx->available[i] && ctx->nr[i] >= 0;
	if (!need || !prefix[0] || !(f = fopen("/proc/kallsyms", "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char type, name[256];

		if (sscanf(line, "%*s %c %255s", &type, name) != 2 || strncmp(name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		for (size_t i = 0; i < NSYSCALLS; i++)
			if (SYSCALLS[i].tp && !ctx->available[i] && strcmp(name + sizeof(prefix) - 1, SYSCALLS[i].name) == 0)
				seen[i] = type == 'T' || type == 't';
	}
	fclose(f);
	for (size_t i = 0; i < NSYSCALLS; i++)
		ctx->stub[i] = SYSCALLS[i].tp && !ctx->available[i] && ctx->nr[i] >= 0 && !seen[i];
}

/*
 * The raw_syscalls fallback: each syscall's number here, whether raw_syscalls/sys_exit exists,
 * and the --raw-syscalls names (an unknown name, or one that is no syscall of this architecture,
 * is an error: the option exists to be sure how a call is observed).
 */
static int raw_fallback_setup(struct vp_ctx *ctx, struct probe *skel)
{
	char p[256], *copy, *save = NULL, *tok;
	int err = 0;

	for (size_t i = 0; i < NSYSCALLS; i++)
		ctx->nr[i] = SYSCALLS[i].tp ? syscall_nr(SYSCALLS[i].name) : -1;
	snprintf(p, sizeof(p), "%s/events/raw_syscalls/sys_exit", ctx->tracefs_root);
	ctx->raw_ok = access(p, F_OK) == 0 && NSYSCALL_NRS > 0;
	if (!ctx->raw_ok)
		bpf_program__set_autoload(skel->progs.raw_sys_exit, false);
	mark_stubs(ctx);
	if (!ctx->opts->raw_syscalls)
		return 0;
	copy = strdup(ctx->opts->raw_syscalls);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \n", &save); tok && !err; tok = strtok_r(NULL, ", \n", &save)) {
		int i = find_syscall(tok);

		if (i < 0) {
			vp_die_line("--raw-syscalls: unknown syscall '%s'", tok);
			err = -EINVAL;
		} else if (ctx->nr[i] < 0) {
			vp_die_line("--raw-syscalls: '%s' has no syscall number on this architecture", tok);
			err = -EINVAL;
		} else if (!ctx->raw_ok) {
			vp_die_line("--raw-syscalls: the raw_syscalls/sys_exit tracepoint is not available (%s)", p);
			err = -ENOENT;
		} else
			ctx->force_raw[i] = true;
	}
	free(copy);
	return err;
}

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
	{
		struct btf *vmlinux = btf__load_vmlinux_btf();

		if (libbpf_get_error(vmlinux))
			vmlinux = NULL;
		for (size_t i = 0; i < NSYSCALLS; i++) {
			struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog);

			ctx->available[i] = p && hook_exists(ctx, &SYSCALLS[i]) && btf_hook_usable(p, vmlinux);
		}
		btf__free(vmlinux);
	}
	err = raw_fallback_setup(ctx, skel);
	if (err) {
		probe__destroy(skel);
		return err;
	}
	/* a program is loaded when one of its hooks exists here (the generic program serves many), or
	 * when the raw_syscalls fallback can serve one of its calls */
	for (size_t i = 0; i < NSYSCALLS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(skel->obj, SYSCALLS[i].prog);
		bool used = false;

		for (size_t j = 0; p && j < NSYSCALLS && !used; j++)
			used = (ctx->available[j] || (ctx->raw_ok && ctx->nr[j] >= 0)) &&
			       strcmp(SYSCALLS[j].prog, SYSCALLS[i].prog) == 0;
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
	/* opening and loading parsed the kernel's BTF twice (ours above, libbpf's for CO-RE) and the
	 * object's ELF: several MiB, freed by now but kept by malloc in the heap; give them back to
	 * the kernel, since the loader lives as long as the agent (BENCHMARKS.md, agent memory) */
	malloc_trim(0);
	return 0;
}

/* ------------------------------------------------------------------ attach / retune */

enum vp_observed { VP_OBS_NONE, VP_OBS_TP, VP_OBS_RAW, VP_OBS_MISSING, VP_OBS_STUB };

static struct bpf_program *prog_of(const struct vp_ctx *ctx, size_t i)
{
	return bpf_object__find_program_by_name(ctx->skel->obj, SYSCALLS[i].prog);
}

/* How a wanted call is observed: its tracepoint, else (or when forced) the raw_syscalls fallback. */
static enum vp_observed observed_by(const struct vp_ctx *ctx, size_t i)
{
	struct bpf_program *p = prog_of(ctx, i);

	if (ctx->available[i] && !ctx->force_raw[i])
		return VP_OBS_TP;
	if (ctx->stub[i] && !ctx->force_raw[i])
		return VP_OBS_STUB;
	if (SYSCALLS[i].tp && ctx->raw_ok && ctx->nr[i] >= 0 && p && bpf_program__fd(p) >= 0)
		return VP_OBS_RAW;
	return VP_OBS_MISSING;
}

/* Fills (on) or empties the raw_progs slot of call i's number. Returns 0 or -errno (printed). */
static int raw_slot(struct vp_ctx *ctx, size_t i, bool on)
{
	__u32 nr = (__u32)ctx->nr[i];
	int err;

	if (on == ctx->in_raw[i])
		return 0;
	if (on) {
		int fd = bpf_program__fd(prog_of(ctx, i));

		err = bpf_map__update_elem(ctx->skel->maps.raw_progs, &nr, sizeof(nr), &fd, sizeof(fd), BPF_ANY);
	} else
		err = bpf_map__delete_elem(ctx->skel->maps.raw_progs, &nr, sizeof(nr), 0);
	if (err && !(err == -ENOENT && !on)) {
		vp_die_line("cannot %s %s in the raw_syscalls fallback (%s)", on ? "route" : "unroute", SYSCALLS[i].name,
			    strerror(-err));
		return err;
	}
	ctx->in_raw[i] = on;
	return 0;
}

/* Attaches the fallback program while some slot is filled, detaches it otherwise. */
static int raw_attach(struct vp_ctx *ctx)
{
	bool any = false;

	for (size_t i = 0; i < NSYSCALLS && !any; i++)
		any = ctx->in_raw[i];
	if (any && !ctx->raw_link) {
		ctx->raw_link = bpf_program__attach_tracepoint(ctx->skel->progs.raw_sys_exit, "raw_syscalls", "sys_exit");
		if (!ctx->raw_link) {
			int err = -errno;

			vp_die_line("cannot attach the raw_syscalls/sys_exit fallback (%s)", strerror(-err));
			return err;
		}
		ctx->nattached++;
	} else if (!any && ctx->raw_link) {
		bpf_link__destroy(ctx->raw_link);
		ctx->raw_link = NULL;
		ctx->nattached--;
	}
	return 0;
}

/* Prints names of the wanted calls observed `how`, comma-separated, on stderr. */
static void print_names(const struct vp_ctx *ctx, const __u8 *want, enum vp_observed how)
{
	const char *sep = " (";
	bool any = false;

	for (size_t i = 0; i < NSYSCALLS; i++)
		if (want[i] && SYSCALLS[i].tp && observed_by(ctx, i) == how) {
			fprintf(stderr, "%s%s", sep, SYSCALLS[i].name);
			sep = ", ";
			any = true;
		}
	if (any)
		fputc(')', stderr);
}

/* The one line saying how the wanted syscalls are observed (FORMAT.md "Syscalls without a tracepoint"). */
static void report_observed(const struct vp_ctx *ctx, const __u8 *want)
{
	int n[5] = { 0 };

	for (size_t i = 0; i < NSYSCALLS; i++)
		if (want[i] && SYSCALLS[i].tp)
			n[observed_by(ctx, i)]++;
	fprintf(stderr, "vigil-probe: syscalls observed: %d by tracepoint, %d by raw_syscalls", n[VP_OBS_TP], n[VP_OBS_RAW]);
	print_names(ctx, want, VP_OBS_RAW);
	fprintf(stderr, ", %d missing", n[VP_OBS_MISSING]);
	print_names(ctx, want, VP_OBS_MISSING);
	if (n[VP_OBS_STUB]) {
		fprintf(stderr, ", %d not in this kernel", n[VP_OBS_STUB]);
		print_names(ctx, want, VP_OBS_STUB);
	}
	fputc('\n', stderr);
	fflush(stderr);
}

int vp_set_syscalls(struct vp_ctx *ctx, const char *list)
{
	__u8 want[NSYSCALLS] = { 0 };
	char *copy = strdup(list ? list : ""), *save = NULL, *tok;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \n", &save); tok; tok = strtok_r(NULL, ", \n", &save)) {
		/* "clone:child": only the child's side of a clone-family call (the agent's state needs it;
		 * no rule does); "mount:ok" / "mount:fail": only successful / failed calls (result filter);
		 * "write:sock": only calls on a socket fd (socket filter); "write:sockjson": and data starting with '{' */
		char *suffix = strchr(tok, ':');
		__u8 value = VIGIL_ON;
		int i;

		if (suffix) {
			*suffix++ = 0;
			if (strcmp(suffix, "child") == 0)
				value = VIGIL_ON_CHILD;
			else if (strcmp(suffix, "ok") == 0)
				value = VIGIL_ON_OK;
			else if (strcmp(suffix, "fail") == 0)
				value = VIGIL_ON_FAIL;
			else if (strcmp(suffix, "sock") == 0)
				value = VIGIL_ON_SOCK;
			else if (strcmp(suffix, "sockjson") == 0)
				value = VIGIL_ON_SOCKJSON;
			else
				fprintf(stderr, "vigil-probe: warning: unknown qualifier ':%s' of '%s' ignored (known: child, ok, fail, sock, sockjson)\n", suffix, tok);
		}
		i = find_syscall(tok);

		if (i < 0)
			fprintf(stderr, "vigil-probe: warning: unknown syscall '%s' ignored\n", tok);
		else if (value == VIGIL_ON_CHILD && !(SYSCALLS[i].flags & VIGIL_EVF_CLONE)) {
			fprintf(stderr, "vigil-probe: warning: ':child' applies to the clone family only; '%s' taken whole\n", tok);
			want[i] = VIGIL_ON;
		} else if ((value == VIGIL_ON_SOCK || value == VIGIL_ON_SOCKJSON) && strcmp(tok, "write") != 0 && strcmp(tok, "writev") != 0) {
			/* the probe reads the fd from argument 0 (and the data from 1): only calls known to have them there */
			fprintf(stderr, "vigil-probe: warning: ':sock' and ':sockjson' apply to write and writev only; '%s' taken whole\n", tok);
			want[i] = VIGIL_ON;
		} else
			want[i] = value;
	}
	free(copy);
	for (size_t i = 0; i < NSYSCALLS; i++) {
		__u32 code = SYSCALLS[i].code;
		__u8 on = want[i];
		enum vp_observed how = want[i] ? observed_by(ctx, i) : VP_OBS_NONE;

		/* the raw slot first: a call moving from its tracepoint is reported by one of them at any time */
		err = raw_slot(ctx, i, how == VP_OBS_RAW);
		if (err)
			return err;
		if (how != VP_OBS_TP && ctx->links[i]) {
			bpf_link__destroy(ctx->links[i]);
			ctx->links[i] = NULL;
			ctx->nattached--;
		}
		if (how == VP_OBS_MISSING || how == VP_OBS_STUB)
			on = 0;
		if (how == VP_OBS_TP && !ctx->links[i]) {
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
	}
	err = raw_attach(ctx);
	if (err)
		return err;
	report_observed(ctx, want);
	return 0;
}

void vp_probe_destroy(struct vp_ctx *ctx)
{
	for (size_t i = 0; i < NSYSCALLS; i++) {
		bpf_link__destroy(ctx->links[i]);
		ctx->links[i] = NULL;
	}
	bpf_link__destroy(ctx->raw_link);
	ctx->raw_link = NULL;
	probe__destroy(ctx->skel);
	ctx->skel = NULL;
}
