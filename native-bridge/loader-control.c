// SPDX-License-Identifier: Apache-2.0
/*
 * The control channel: with --control-stdin the agent writes lines on stdin, applied in order
 * (FORMAT.md): "syscalls a,b,c", "exclude N", "prevent CGROUP_ID BITS", "prevent-clear", the
 * kernel filter lines "filter-begin EV", "fname EV DIM BITS HEX", "filter EV off|CLAUSES", and
 * "sync N" (answered once every line before it is applied). Here are the exclusion, prevention
 * and kernel-filter map updates those lines ask for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"

/* ------------------------------------------------------------------ exclusion */

int vp_exclude_pid(struct vp_ctx *ctx, __u32 pid)
{
	__u8 one = 1;

	return bpf_map__update_elem(ctx->maps.excluded, &pid, sizeof(pid), &one, sizeof(one), BPF_ANY);
}

/* ------------------------------------------------------------------ prevention */

/*
 * set_prevent() - arm (bits != 0) or disarm (bits == 0) prevention for one cgroup v2 id. A full
 * map refuses the request: the cgroup stays unarmed (fail open), counted and reported once.
 * Returns 0 on success, -errno on error.
 */
static int set_prevent(struct vp_ctx *ctx, __u64 cgid, __u32 bits)
{
	struct bpf_map *m = ctx->maps.prevent;
	__u32 old;
	bool had = bpf_map__lookup_elem(m, &cgid, sizeof(cgid), &old, sizeof(old), 0) == 0;
	int err;

	/* id 1 is the root cgroup (every host process): never armed, whatever the agent asks */
	if (cgid <= 1)
		return -EINVAL;
	if (bits == 0) {
		if (had && bpf_map__delete_elem(m, &cgid, sizeof(cgid), 0) == 0)
			ctx->prevent_entries--;
		return 0;
	}
	bits &= VIGIL_PREVENT_ALL;
	err = bpf_map__update_elem(m, &cgid, sizeof(cgid), &bits, sizeof(bits), BPF_ANY);
	if (err) {
		if (err == -E2BIG || err == -ENOMEM) {
			if (ctx->prevent_map_full++ == 0)
				fprintf(stderr, "vigil-probe: warning: prevention map full (%u cgroups): cgroup %llu not armed (raise --prevent-max)\n",
					ctx->prevent_entries, (unsigned long long)cgid);
		}
		return err;
	}
	if (!had)
		ctx->prevent_entries++;
	return 0;
}

static void clear_prevent(struct vp_ctx *ctx)
{
	__u64 next;

	/* the deleted key is gone, so each round starts again from the first key */
	while (bpf_map__get_next_key(ctx->maps.prevent, NULL, &next, sizeof(next)) == 0)
		if (bpf_map__delete_elem(ctx->maps.prevent, &next, sizeof(next), 0) != 0)
			break;
	ctx->prevent_entries = 0;
}

/* ------------------------------------------------------------------ kernel filters */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An event name of the filterable kind, as its code; -1 otherwise. */
static int filter_type(const char *name)
{
	return (vp_syscall_flags(name) & VIGIL_EVF_FILTER) ? vp_syscall_code(name) : -1;
}

/*
 * filter_begin() - turn `type`'s filter off (every event passes) and delete its names, so that
 * an update in progress can only send more events, never fewer. Returns 0 or -errno.
 */
static int filter_begin(struct vp_ctx *ctx, __u32 type)
{
	struct vigil_filter off = { 0 };
	struct vigil_fname_key k, next, *prev = NULL, *doomed = ctx->fname_scratch;
	struct vigil_fname_hint none = { 0 };
	int fd = bpf_map__fd(ctx->maps.filter_names), err;
	size_t n = 0;

	err = bpf_map__update_elem(ctx->maps.filters, &type, sizeof(type), &off, sizeof(off), BPF_ANY);
	if (err)
		return err;
	for (__u32 dim = VIGIL_DIM_LEAF; dim <= VIGIL_DIM_RAWTOP; dim++) {
		__u32 hk = VIGIL_FNAME_HINT_KEY(type, dim);

		bpf_map__update_elem(ctx->maps.fname_hints, &hk, sizeof(hk), &none, sizeof(none), BPF_ANY);
	}
	while (n < VP_FNAME_ENTRIES && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.type == type)
			doomed[n++] = next;
		k = next;
		prev = &k;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	return 0;
}

/* "fname <event> <dim> <bits> <hex name>": one name of a set. Returns 0 or -errno. */
static int filter_name(struct vp_ctx *ctx, char *args)
{
	char ev[32], hex[2 * VIGIL_FNAME_MAX + 2];
	unsigned int dim, bits;
	struct vigil_fname_key k = { 0 };
	struct vigil_fname_hint hint;
	__u32 hk;
	size_t n;
	int type, err;

	if (sscanf(args, "%31s %u %u %121s", ev, &dim, &bits, hex) != 4)
		return -EINVAL;
	type = filter_type(ev);
	n = strlen(hex);
	if (type < 0 || dim < VIGIL_DIM_LEAF || dim > VIGIL_DIM_RAWTOP || n % 2 || n / 2 >= VIGIL_FNAME_MAX)
		return -EINVAL;
	k.type = (__u16)type;
	k.dim = (__u8)dim;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -EINVAL;
		k.name[i] = (char)(hi << 4 | lo);
	}
	hk = VIGIL_FNAME_HINT_KEY(type, dim);
	if (bpf_map__lookup_elem(ctx->maps.fname_hints, &hk, sizeof(hk), &hint, sizeof(hint), 0))
		memset(&hint, 0, sizeof(hint));
	hint.len_mask |= 1ULL << (n / 2);
	hint.len_clauses[n / 2] |= (__u8)bits;
	hint.first[(__u8)k.name[0] >> 6] |= 1ULL << ((__u8)k.name[0] & 63);
	/* the hint first: a name is never in the set while the hint says it cannot be */
	err = bpf_map__update_elem(ctx->maps.fname_hints, &hk, sizeof(hk), &hint, sizeof(hint), BPF_ANY);
	return err ? err : bpf_map__update_elem(ctx->maps.filter_names, &k, sizeof(k), &bits, sizeof(bits), BPF_ANY);
}

/*
 * "filter <event> off" or "filter <event> res,acc,flags_all,need ..." (one group per clause):
 * installs the clauses (after "filter-begin" and the "fname" lines). Returns 0 or -errno.
 */
static int filter_set(struct vp_ctx *ctx, char *args)
{
	struct vigil_filter f = { 0 };
	char *save = NULL, *tok = strtok_r(args, " ", &save);
	int type = tok ? filter_type(tok) : -1;
	__u32 key;

	if (type < 0)
		return -EINVAL;
	key = (__u32)type;
	while ((tok = strtok_r(NULL, " ", &save))) {
		unsigned int res, acc, fa, need;

		if (strcmp(tok, "off") == 0) {
			f.n = 0;
			break;
		}
		if (f.n >= VIGIL_FILTER_CLAUSES || sscanf(tok, "%u,%u,%u,%u", &res, &acc, &fa, &need) != 4 ||
		    res > VIGIL_RES_FAIL || acc > 15 || need >= (1U << VIGIL_NEED_KINDS))
			return -EINVAL;
		f.c[f.n].res = (__u8)res;
		f.c[f.n].acc = (__u8)acc;
		f.c[f.n].flags_all = fa;
		f.c[f.n].need = (__u8)need;
		f.n++;
	}
	f.on = f.n > 0;
	vigil_filter_masks(&f);
	return bpf_map__update_elem(ctx->maps.filters, &key, sizeof(key), &f, sizeof(f), BPF_ANY);
}

/* One "filter-begin" / "fname" / "filter" control line; a bad line is reported on stderr. */
static void filter_control(struct vp_ctx *ctx, char *line)
{
	int err;

	if (strncmp(line, "filter-begin ", 13) == 0) {
		int type = filter_type(line + 13);

		err = type < 0 ? -EINVAL : filter_begin(ctx, (__u32)type);
	} else if (strncmp(line, "fname ", 6) == 0) {
		err = filter_name(ctx, line + 6);
	} else {
		err = filter_set(ctx, line + 7);
	}
	if (err)
		fprintf(stderr, "vigil-probe: warning: kernel filter line rejected (%s): %.80s\n", strerror(-err), line);
}

/* ------------------------------------------------------------------ control input */

/* Applies one control line (NUL-terminated); unknown lines are ignored. */
static void control_line(struct vp_ctx *ctx, char *line)
{
	if (strncmp(line, "syscalls ", 9) == 0)
		vp_set_syscalls(ctx, line + 9);
	else if (strncmp(line, "exclude ", 8) == 0)
		vp_exclude_pid(ctx, (__u32)strtoul(line + 8, NULL, 10));
	else if (strncmp(line, "prevent ", 8) == 0) {
		char *end = NULL;
		unsigned long long id = strtoull(line + 8, &end, 10);
		unsigned long bits = end ? strtoul(end, NULL, 10) : 0;

		set_prevent(ctx, (__u64)id, (__u32)bits);
	} else if (strcmp(line, "prevent-clear") == 0)
		clear_prevent(ctx);
	else if (strncmp(line, "filter-begin ", 13) == 0 || strncmp(line, "fname ", 6) == 0 ||
		 strncmp(line, "filter ", 7) == 0)
		filter_control(ctx, line);
	else if (strncmp(line, "sync ", 5) == 0)
		vp_emit_sync(ctx, strtoull(line + 5, NULL, 10));
}

bool vp_control_read(struct vp_ctx *ctx)
{
	ssize_t r = read(STDIN_FILENO, ctx->ctl_line + ctx->ctl_len, sizeof(ctx->ctl_line) - 1 - ctx->ctl_len);
	char *nl;

	if (r == 0)
		return false;
	if (r < 0)
		return errno == EINTR || errno == EAGAIN;
	ctx->ctl_len += (size_t)r;
	ctx->ctl_line[ctx->ctl_len] = 0;
	while ((nl = memchr(ctx->ctl_line, '\n', ctx->ctl_len))) {
		*nl = 0;
		control_line(ctx, ctx->ctl_line);
		ctx->ctl_len -= (size_t)(nl + 1 - ctx->ctl_line);
		memmove(ctx->ctl_line, nl + 1, ctx->ctl_len);
	}
	if (ctx->ctl_len >= sizeof(ctx->ctl_line) - 1)
		ctx->ctl_len = 0; /* an overlong line is dropped */
	return true;
}
