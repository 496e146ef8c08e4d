// SPDX-License-Identifier: Apache-2.0
/* fork + execve(/bin/true) + wait; prints µs per exec. Usage: bench-exec [N] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	struct timespec a, b;
	char *args[] = { "true", NULL };

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0) {
			execv("/bin/true", args);
			_exit(127);
		}
		if (p > 0)
			waitpid(p, NULL, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3) / (double)n);
	return 0;
}
