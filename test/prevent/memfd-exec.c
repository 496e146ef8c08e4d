// SPDX-License-Identifier: Apache-2.0
/*
 * memfd-exec SRC ARGV0 ARGS...: copies SRC into an anonymous memory file and runs it from there
 * with execveat(fd, "", AT_EMPTY_PATH) — fileless execution, as a dropper does. Exits 126 when
 * the exec itself fails.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	char buf[65536];
	ssize_t n;
	int src, fd;

	if (argc < 3) {
		fprintf(stderr, "usage: memfd-exec SRC ARGV0 [ARGS...]\n");
		return 2;
	}
	src = open(argv[1], O_RDONLY);
	fd = memfd_create("payload", 0);
	if (src < 0 || fd < 0) {
		perror("memfd-exec: open");
		return 126;
	}
	while ((n = read(src, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n) {
			perror("memfd-exec: write");
			return 126;
		}
	close(src);
	syscall(SYS_execveat, fd, "", &argv[2], environ, AT_EMPTY_PATH);
	perror("memfd-exec: execveat");
	return 126;
}
