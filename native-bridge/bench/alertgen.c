// SPDX-License-Identifier: Apache-2.0
/*
 * Alert generator for the syscall → alert latency benchmark (test/bench/alert-latency.sh): opens
 * /etc/shadow for reading (Falco's stable rule "Read sensitive file untrusted" fires for a
 * program of this name), closes it, then waits a jittered gap, COUNT times.
 *
 *   alertgen COUNT RATE [TAG]
 *     COUNT  opens (alerts) to issue
 *     RATE   mean opens per second; each gap is uniform in [0.2, 1.8] × 1/RATE, so pairs close
 *            together (the second record written right after a wake-up) and lone events after a
 *            quiet spell both occur
 *     TAG    ignored; it shows in the alert's proc.cmdline, so the reader (alertlat.c) can group
 *            the alerts of one phase
 *
 * Output: one line per open on stdout, "SEQ REALTIME_NS" (CLOCK_REALTIME just before openat);
 * the benchmark checks the alert's evt.time against it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static unsigned long long ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

int main(int argc, char **argv)
{
	long count, rate;
	unsigned long long next;
	unsigned int seed = (unsigned int)getpid();

	if (argc < 3 || argc > 4 || (count = atol(argv[1])) <= 0 || (rate = atol(argv[2])) <= 0 || rate > 100000) {
		fprintf(stderr, "usage: alertgen COUNT RATE [TAG] (COUNT > 0, 0 < RATE <= 100000)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	next = ns(CLOCK_MONOTONIC);
	for (long i = 0; i < count; i++) {
		unsigned long long gap = 1000000000ULL / (unsigned long long)rate;
		unsigned long long t;
		struct timespec until;
		int fd;

		t = ns(CLOCK_REALTIME);
		fd = openat(AT_FDCWD, "/etc/shadow", O_RDONLY);
		if (fd < 0) {
			perror("alertgen: open /etc/shadow");
			return 1;
		}
		close(fd);
		printf("%ld %llu\n", i, t);
		/* uniform jitter in [0.2, 1.8] × the mean gap */
		next += gap / 5 + (unsigned long long)((double)rand_r(&seed) / RAND_MAX * (double)gap * 1.6);
		until.tv_sec = (time_t)(next / 1000000000ULL);
		until.tv_nsec = (long)(next % 1000000000ULL);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
	}
	fflush(stdout);
	return 0;
}
