// SPDX-License-Identifier: Apache-2.0
/*
 * Loader-only latency: reads vigil-probe's frames (FORMAT.md) from stdin and, for each frame whose
 * comm is COMM, takes (arrival on CLOCK_BOOTTIME) − (the frame's ts, the syscall's exit in the
 * kernel). The part of the syscall → alert latency (test/bench/alert-latency.sh) that is the
 * ring buffer and the loader, without the agent.
 *
 *   vigil-probe --syscalls openat | probelat bench-alertgen
 *
 * At EOF prints "n=N p50=… p90=… p99=… max=… ms frames=F" (F: every frame read).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include "../events.h"

#define MAXN 1000000

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 21];
	size_t len = 0;
	double *ms = calloc(MAXN, sizeof(double));
	long n = 0, frames = 0;

	if (argc != 2 || !ms) {
		fprintf(stderr, "usage: probelat COMM\n");
		return 2;
	}
	for (;;) {
		ssize_t r = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
		struct timespec now;
		size_t off = 0;

		if (r <= 0)
			break;
		clock_gettime(CLOCK_BOOTTIME, &now);
		len += (size_t)r;
		while (len - off >= sizeof(struct vigil_hdr)) {
			struct vigil_hdr h;

			memcpy(&h, buf + off, sizeof(h));
			if (h.size < sizeof(h) || h.size > sizeof(buf)) {
				fprintf(stderr, "probelat: bad frame size %u\n", h.size);
				return 1;
			}
			if (len - off < h.size)
				break;
			if (strncmp(h.comm, argv[1], sizeof(h.comm)) == 0 && n < MAXN)
				ms[n++] = ((double)now.tv_sec * 1e9 + (double)now.tv_nsec - (double)h.ts) / 1e6;
			frames++;
			off += h.size;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	if (n > 0) {
		qsort(ms, (size_t)n, sizeof(double), cmp);
#define PCT(p) ms[(long)((double)(n - 1) * (p) + 0.5)]
		printf("n=%ld p50=%.3f p90=%.3f p99=%.3f max=%.3f ms frames=%ld\n", n, PCT(0.5), PCT(0.9), PCT(0.99), ms[n - 1],
		       frames);
	}
	free(ms);
	return 0;
}
