// SPDX-License-Identifier: Apache-2.0
/*
 * Attaches the empty program of empty-exit.bpf.o to one syscall's exit tracepoint and holds it
 * until stdin closes (test/bench/tracepoint-floor.sh).
 *   usage: bench-attach OBJECT SYSCALL    (root; tracefs mounted)
 * Prints "attached" on stdout once the program is attached.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	char tp[64], buf[64];
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link;

	if (argc != 3 || strlen(argv[2]) > 40) {
		fprintf(stderr, "usage: bench-attach OBJECT SYSCALL\n");
		return 2;
	}
	libbpf_set_print(quiet);
	snprintf(tp, sizeof(tp), "sys_exit_%s", argv[2]);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "bench-attach: cannot load %s\n", argv[1]);
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, "empty_exit");
	link = prog ? bpf_program__attach_tracepoint(prog, "syscalls", tp) : NULL;
	if (!link) {
		fprintf(stderr, "bench-attach: cannot attach to syscalls/%s\n", tp);
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
