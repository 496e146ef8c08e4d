// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-mem.node: a Node-API addon with one function, `trimCode()`, for the agent's memory saver
 * (agent/memory-trim.ts; issue 22).
 *
 * Half of an idle agent's resident memory is not its own data: it is the node executable's code
 * and read-only data, file pages mapped into the process. Start-up touches tens of MiB of them
 * once (the module loader, the compilers of the start-up code, the configuration checks), and the
 * kernel maps the neighbours of every page touched too (fault-around). They stay counted in the
 * agent's RSS (and in its cgroup's page cache) long after the code that touched them has stopped
 * running. trimCode() tells the kernel, with madvise(MADV_PAGEOUT), that the agent's private
 * read-only file mappings may be reclaimed now; what the agent still runs faults back in at once
 * (from the page cache: minor faults), what it ran only at start stays out. Nothing is lost:
 * the pages are clean copies of the file. Writable mappings, anonymous memory, shared mappings
 * and special files (the probe's ring, io_uring, [vdso]) are left alone.
 *
 * No Node header is needed: the few Node-API entry points are declared below from their stable
 * C ABI (js_native_api.h), so the addon builds with any C compiler, also for arm64.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

/* ---- Node-API, as far as this addon uses it (stable ABI, Node-API version 1) ---- */
typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status; /* napi_ok is 0 */
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
extern napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data,
					napi_value *result);
extern napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
extern napi_status napi_create_object(napi_env env, napi_value *result);
extern napi_status napi_create_double(napi_env env, double value, napi_value *result);

/* One line of /proc/self/maps: "start-end perms offset dev inode   path". */
static int parse_line(char *line, uintptr_t *start, uintptr_t *end, char perms[5], const char **path)
{
	unsigned long s, e;
	int off = 0;
	if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &s, &e, perms, &off) < 3 || off == 0)
		return -1;
	*start = (uintptr_t)s;
	*end = (uintptr_t)e;
	char *p = line + off;
	size_t n = strlen(p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
		p[--n] = '\0';
	*path = p;
	return 0;
}

/* Whether a mapping is one trimCode() may hand back: private, not writable, backed by a file. */
static int trimmable(const char perms[5], const char *path)
{
	if (perms[1] == 'w' || perms[3] != 'p')
		return 0;
	if (path[0] != '/')
		return 0; /* anonymous, [heap], [stack], [vdso], anon_inode:... */
	size_t n = strlen(path);
	static const char deleted[] = " (deleted)";
	if (n >= sizeof deleted - 1 && strcmp(path + n - (sizeof deleted - 1), deleted) == 0)
		return 0;
	if (strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "/dev/", 5) == 0)
		return 0;
	return 1;
}

/* trimCode() -> { mappings, bytes, errno }: the mappings advised, their size, the first error. */
static napi_value trim_code(napi_env env, napi_callback_info info)
{
	(void)info;
	double mappings = 0, bytes = 0, err = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	if (f == NULL) {
		err = errno;
	} else {
		char line[4096 + 128];
		while (fgets(line, sizeof line, f) != NULL) {
			size_t len = strlen(line);
			if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
				/* a path longer than the buffer: skip the rest of the line */
				int c;
				while ((c = fgetc(f)) != EOF && c != '\n')
					;
				continue;
			}
			uintptr_t start, end;
			char perms[5] = "";
			const char *path;
			if (parse_line(line, &start, &end, perms, &path) != 0 || !trimmable(perms, path))
				continue;
			if (madvise((void *)start, end - start, MADV_PAGEOUT) != 0) {
				if (err == 0)
					err = errno;
				continue;
			}
			mappings++;
			bytes += (double)(end - start);
		}
		fclose(f);
	}
	napi_value out, v;
	if (napi_create_object(env, &out) != 0)
		return NULL;
	if (napi_create_double(env, mappings, &v) == 0)
		napi_set_named_property(env, out, "mappings", v);
	if (napi_create_double(env, bytes, &v) == 0)
		napi_set_named_property(env, out, "bytes", v);
	if (napi_create_double(env, err, &v) == 0)
		napi_set_named_property(env, out, "errno", v);
	return out;
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
	napi_value fn;
	if (napi_create_function(env, "trimCode", (size_t)-1, trim_code, NULL, &fn) == 0)
		napi_set_named_property(env, exports, "trimCode", fn);
	return exports;
}

__attribute__((visibility("default"))) int32_t node_api_module_get_api_version_v1(void)
{
	return 1;
}
