// SPDX-License-Identifier: Apache-2.0
/*
 * Paced load generator for the agent throughput benchmark: issues rule-relevant syscalls at a
 * target rate for a number of seconds and prints what it achieved.
 *
 *   rate MODE RATE SECONDS
 *     MODE open  openat(O_RDONLY) of ordinary files under /etc, then close (close is not in the
 *                rule set: one event per pair)
 *          dup   dup2(fd, 100 + i % 8) of an open file (one event per call)
 *          mix   per round: one open + close of a file under /etc, then three dup2 (4 events)
 *     RATE       events per second (0 = as fast as possible)
 *
 * Output (one line): mode target_eps achieved_eps events seconds
 * Pacing: every 1 ms slice gets its share of the target; a slice that runs late is not made up
 * with a burst, so the achieved rate falls below the target when this process (one core) is the
 * limit.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const files[] = { "/etc/hostname",      "/etc/hosts",	  "/etc/resolv.conf",
				     "/etc/os-release",    "/etc/nsswitch.conf", "/etc/ld.so.cache",
				     "/etc/debian_version", "/etc/host.conf" };
#define NFILES (sizeof(files) / sizeof(files[0]))

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* One unit of work; returns the events it makes. */
static long step(int mode, long i, int fd)
{
	switch (mode) {
	case 0: {
		int f = openat(AT_FDCWD, files[i % NFILES], O_RDONLY);

		if (f >= 0)
			close(f);
		return 1;
	}
	case 1:
		dup2(fd, 100 + (int)(i % 8));
		return 1;
	default: {
		int f = openat(AT_FDCWD, files[i % NFILES], O_RDONLY);

		if (f >= 0)
			close(f);
		dup2(fd, 100);
		dup2(fd, 101);
		dup2(fd, 102);
		return 4;
	}
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: rate open|dup|mix RATE SECONDS\n");
		return 2;
	}
	int mode = strcmp(argv[1], "open") == 0 ? 0 : strcmp(argv[1], "dup") == 0 ? 1 : 2;
	double rate = atof(argv[2]);
	double secs = atof(argv[3]);
	int fd = open("/etc/hostname", O_RDONLY);
	long events = 0, i = 0;
	double start = now(), end = start + secs, slice = start;

	if (fd < 0) {
		perror("open /etc/hostname");
		return 1;
	}
	double budget = 0;

	while (now() < end) {
		if (rate <= 0) {
			for (int k = 0; k < 1000; k++)
				events += step(mode, i++, fd);
			continue;
		}
		slice += 0.001;
		budget += rate * 0.001;
		while (budget >= 1) {
			long e = step(mode, i++, fd);

			budget -= e;
			events += e;
		}
		double t = now();

		if (t < slice) {
			struct timespec d = { 0, (long)((slice - t) * 1e9) };

			nanosleep(&d, NULL);
		} else if (t > slice + 0.010) {
			/* late: this process is the limit; do not burst to catch up */
			slice = t;
			budget = 0;
		}
	}
	double took = now() - start;

	printf("%s %.0f %.0f %ld %.3f\n", argv[1], rate, events / took, events, took);
	return 0;
}
