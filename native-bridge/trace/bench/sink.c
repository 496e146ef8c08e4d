// SPDX-License-Identifier: Apache-2.0
/* A stand-in agent for benchmarks: listens on a unix socket and discards what arrives,
 * counting bytes. Usage: bench-sink PATH (runs until killed; prints bytes on SIGTERM). */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct pollfd fds[64];
	int nfds = 1;
	unsigned long long bytes = 0;
	static char buf[1 << 16];

	if (argc < 2)
		return 2;
	signal(SIGTERM, on_term);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	fds[0].fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fds[0].fd < 0 || bind(fds[0].fd, (struct sockaddr *)&a, sizeof(a)) || listen(fds[0].fd, 16))
		return 1;
	fds[0].events = POLLIN;
	while (!stop) {
		if (poll(fds, (nfds_t)nfds, 200) <= 0)
			continue;
		if ((fds[0].revents & POLLIN) && nfds < 64) {
			fds[nfds].fd = accept(fds[0].fd, NULL, NULL);
			fds[nfds].events = POLLIN;
			if (fds[nfds].fd >= 0)
				nfds++;
		}
		for (int i = 1; i < nfds; i++) {
			if (!(fds[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = read(fds[i].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fds[i].fd);
				fds[i] = fds[--nfds];
				i--;
				continue;
			}
			bytes += (unsigned long long)r;
		}
	}
	fprintf(stderr, "bench-sink: %llu bytes\n", bytes);
	unlink(argv[1]);
	return 0;
}
