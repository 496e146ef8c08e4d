// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-syslog: the agent's writer to the local syslog socket (Falco's syslog_output). Node cannot
 * open a unix datagram socket, so the agent feeds this helper one message per line on stdin, each
 * already formatted (`<PRI>...`, see agent/sinks/outputs/syslog-output.ts), and the helper sends
 * each line, without its newline, as one datagram to the socket (argv, default /dev/log).
 *
 *   vigil-syslog [--max-bytes N] [--queue N] [--hold-ms MS] [--drain-ms MS] [--report-ms MS] [SOCKET]
 *
 * - A line longer than --max-bytes (default 8192, rsyslog's default maxMessageSize) is cut to it
 *   and counted as truncated; the rest of the line is skipped, never buffered.
 * - Lines read wait in a queue of at most --queue messages (default 1024; memory is bounded by
 *   queue x max-bytes). When the socket is missing or refuses (ENOENT, ECONNREFUSED: the reader
 *   restarted and made a new socket), the helper reconnects with backoff (50 ms doubling to 2 s)
 *   and goes on reading stdin. When the queue is full, stdin is left unread (the writer waits)
 *   until room is made; a message that could not be sent within --hold-ms (default 10000) of being
 *   read is dropped and counted, so a socket that stays away costs neither memory nor a stuck agent.
 * - Drops and truncations are reported on stderr, one line at most every --report-ms (default
 *   10000) and once at exit: `vigil-syslog: dropped=N truncated=N total_dropped=N
 *   total_truncated=N socket=PATH error=...` (the agent parses `dropped=N` into its counters).
 *   Losing and regaining the socket is reported on a line each.
 * - At stdin EOF the queue is sent for up to --drain-ms (default 1000), the rest dropped and
 *   counted, and the helper exits 0. Bad arguments: a usage line and exit 2.
 * libc only; no allocation after start but the queue's fixed slots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/dev/log"
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct msg {
	int64_t read_at; /* monotonic ms */
	uint32_t len;
};

static struct {
	const char *path;
	long max_bytes, queue, hold_ms, drain_ms, report_ms;
} opt = { DEFAULT_SOCKET, 8192, 1024, 10000, 1000, 10000 };

/* the queue: slots of max_bytes each, head..head+count-1 (mod queue) waiting */
static struct msg *meta;
static char *data;
static long head, count;

/* the line being read: at most max_bytes kept */
static char *line;
static long line_len;
static int line_cut; /* the current line is past max_bytes: skipping to its newline */

static int sock = -1;
static int64_t next_try; /* when to connect again (monotonic ms) */
static long backoff_ms;
static int last_err; /* errno of the last failure to connect or send (0: none) */
static int64_t lost_at = -1; /* when the socket was lost (-1: it is not) */

static unsigned long long dropped, truncated, sent;
static unsigned long long rep_dropped, rep_truncated; /* already reported */
static int64_t last_report;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...)
{
	char buf[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per line: lines from here never interleave; stderr errors are not ours to handle */
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
	(void)w;
}

static void report(int64_t now, int force)
{
	if (dropped == rep_dropped && truncated == rep_truncated)
		return;
	if (!force && now - last_report < opt.report_ms)
		return;
	say("vigil-syslog: dropped=%llu truncated=%llu total_dropped=%llu total_truncated=%llu socket=%s error=%s",
	    dropped - rep_dropped, truncated - rep_truncated, dropped, truncated, opt.path,
	    last_err ? strerror(last_err) : "none");
	rep_dropped = dropped;
	rep_truncated = truncated;
	last_report = now;
}

static void drop_head(void)
{
	head = (head + 1) % opt.queue;
	count--;
	dropped++;
}

static void disconnect(int err, int64_t now)
{
	if (sock >= 0)
		close(sock);
	sock = -1;
	last_err = err;
	if (lost_at < 0) {
		lost_at = now;
		say("vigil-syslog: socket %s: %s: reconnecting with backoff", opt.path, strerror(err));
	}
}

/* Connects when due; returns whether connected. */
static int try_connect(int64_t now)
{
	if (sock >= 0)
		return 1;
	if (now < next_try)
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, opt.path, strlen(opt.path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		say("vigil-syslog: socket(): %s", strerror(errno));
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int err = errno;
		close(fd);
		disconnect(err, now);
		backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS : backoff_ms * 2;
		if (backoff_ms > BACKOFF_MAX_MS)
			backoff_ms = BACKOFF_MAX_MS;
		next_try = now + backoff_ms;
		return 0;
	}
	sock = fd;
	backoff_ms = 0;
	if (lost_at >= 0)
		say("vigil-syslog: socket %s: connected again after %lld ms", opt.path, (long long)(now - lost_at));
	lost_at = -1;
	last_err = 0;
	return 1;
}

/* Sends what it can. Returns 1 when the socket would block (wait for POLLOUT). */
static int flush(int64_t now)
{
	while (count > 0) {
		if (!try_connect(now))
			return 0;
		struct msg *m = &meta[head];
		ssize_t r = send(sock, data + head * opt.max_bytes, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0) {
			head = (head + 1) % opt.queue;
			count--;
			sent++;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1;
		if (errno == EMSGSIZE) {
			/* the reader's limit is below --max-bytes: this one cannot go */
			last_err = errno;
			drop_head();
			continue;
		}
		/* ECONNREFUSED, ENOTCONN, EPIPE…: the reader went away; a new socket may be there already */
		disconnect(errno, now);
		next_try = now;
		backoff_ms = 0;
		if (!try_connect(now))
			return 0;
	}
	return 0;
}

static void enqueue(int64_t now)
{
	long slot = (head + count) % opt.queue;
	memcpy(data + slot * opt.max_bytes, line, (size_t)line_len);
	meta[slot].len = (uint32_t)line_len;
	meta[slot].read_at = now;
	count++;
}

/* Splits what was read into lines; returns how many bytes of buf were used (stops when the queue is full). */
static size_t take_lines(const char *buf, size_t n, int64_t now)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(buf + i, '\n', n - i);
		size_t seg = nl ? (size_t)(nl - (buf + i)) : n - i;
		if (nl && count >= opt.queue)
			return i; /* a complete line with no room: keep it for later */
		if (!line_cut) {
			size_t room = (size_t)(opt.max_bytes - line_len);
			size_t k = seg < room ? seg : room;
			memcpy(line + line_len, buf + i, k);
			line_len += (long)k;
			if (seg > room) {
				line_cut = 1;
				truncated++;
			}
		}
		i += seg;
		if (nl) {
			i++;
			if (line_len > 0 || line_cut) /* an empty line is no message */
				enqueue(now);
			line_len = 0;
			line_cut = 0;
		}
	}
	return i;
}

static long num_arg(const char *name, const char *v, long lo, long hi)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno != 0 || *v == '\0' || *end != '\0' || x < lo || x > hi) {
		fprintf(stderr, "vigil-syslog: %s %s: expected a number from %ld to %ld\n", name, v, lo, hi);
		exit(2);
	}
	return x;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil-syslog [--max-bytes N] [--queue N] [--hold-ms MS] [--drain-ms MS] [--report-ms MS] [SOCKET]\n"
		   "  sends each line of stdin as one datagram to the unix socket SOCKET (default " DEFAULT_SOCKET ")\n");
}

int main(int argc, char **argv)
{
	int have_path = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (a[0] == '-' && a[1] == '-' && i + 1 < argc) {
			const char *v = argv[++i];
			if (strcmp(a, "--max-bytes") == 0)
				opt.max_bytes = num_arg(a, v, 16, 1 << 20);
			else if (strcmp(a, "--queue") == 0)
				opt.queue = num_arg(a, v, 1, 1 << 16);
			else if (strcmp(a, "--hold-ms") == 0)
				opt.hold_ms = num_arg(a, v, 0, 3600 * 1000);
			else if (strcmp(a, "--drain-ms") == 0)
				opt.drain_ms = num_arg(a, v, 0, 3600 * 1000);
			else if (strcmp(a, "--report-ms") == 0)
				opt.report_ms = num_arg(a, v, 0, 3600 * 1000);
			else {
				fprintf(stderr, "vigil-syslog: unknown option %s\n", a);
				usage(stderr);
				return 2;
			}
			continue;
		}
		if (a[0] == '-' || have_path) {
			fprintf(stderr, "vigil-syslog: unexpected argument %s\n", a);
			usage(stderr);
			return 2;
		}
		opt.path = a;
		have_path = 1;
	}
	if (opt.path[0] == '\0' || strlen(opt.path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "vigil-syslog: socket path %s: empty or longer than %zu bytes\n", opt.path,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return 2;
	}
	if ((long long)opt.queue * opt.max_bytes > (256LL << 20)) {
		fprintf(stderr, "vigil-syslog: --queue x --max-bytes is over 256 MiB\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	meta = calloc((size_t)opt.queue, sizeof(*meta));
	data = malloc((size_t)opt.queue * (size_t)opt.max_bytes);
	line = malloc((size_t)opt.max_bytes);
	if (!meta || !data || !line) {
		fprintf(stderr, "vigil-syslog: out of memory\n");
		return 1;
	}
	int fl = fcntl(STDIN_FILENO, F_GETFL);
	if (fl >= 0)
		fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);

	static char in[65536];
	size_t in_len = 0; /* bytes of `in` read but not yet taken (the queue was full) */
	int eof = 0;
	int64_t drain_until = 0;
	int64_t start = now_ms();
	last_report = start - opt.report_ms; /* the first report goes out at once */
	try_connect(start);

	for (;;) {
		int64_t now = now_ms();
		/* what waited too long is dropped */
		while (count > 0 && now - meta[head].read_at > opt.hold_ms)
			drop_head();
		int blocked = flush(now);
		if (in_len > 0) {
			size_t used = take_lines(in, in_len, now);
			memmove(in, in + used, in_len - used);
			in_len -= used;
			if (used > 0)
				blocked = flush(now);
		}
		if (eof && in_len == 0 && (line_len > 0 || line_cut) && count < opt.queue) {
			/* a last line without its newline is a message too */
			enqueue(now);
			line_len = 0;
			line_cut = 0;
			blocked = flush(now);
		}
		report(now, 0);
		if (eof && ((count == 0 && in_len == 0 && line_len == 0 && !line_cut) || now >= drain_until))
			break;

		struct pollfd p[2];
		int np = 0, in_idx = -1;
		if (!eof && in_len < sizeof(in) && count < opt.queue) {
			p[np] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
			in_idx = np++;
		}
		if (blocked && sock >= 0)
			p[np++] = (struct pollfd){ .fd = sock, .events = POLLOUT };
		/* wake for: the next connect, the head's expiry, the next report, the end of the drain */
		int64_t wake = INT64_MAX;
		if (count > 0) {
			if (sock < 0 && next_try < wake)
				wake = next_try;
			if (meta[head].read_at + opt.hold_ms + 1 < wake)
				wake = meta[head].read_at + opt.hold_ms + 1;
		}
		if ((dropped != rep_dropped || truncated != rep_truncated) && last_report + opt.report_ms < wake)
			wake = last_report + opt.report_ms;
		if (eof && drain_until < wake)
			wake = drain_until;
		int timeout = -1;
		if (wake != INT64_MAX)
			timeout = wake <= now ? 0 : (wake - now > INT_MAX ? INT_MAX : (int)(wake - now));
		int r = poll(p, (nfds_t)np, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			say("vigil-syslog: poll: %s", strerror(errno));
			return 1;
		}
		if (in_idx >= 0 && p[in_idx].revents) {
			ssize_t n = read(STDIN_FILENO, in + in_len, sizeof(in) - in_len);
			if (n > 0) {
				in_len += (size_t)n;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = 1;
				drain_until = now_ms() + opt.drain_ms;
			}
		}
	}
	/* unsent after the drain: dropped, with the lines still unread from `in` (the queue was full) */
	while (count > 0)
		drop_head();
	int partial = line_len > 0 || line_cut;
	for (size_t i = 0; i < in_len; i++) {
		if (in[i] == '\n') {
			dropped += partial;
			partial = 0;
		} else {
			partial = 1;
		}
	}
	dropped += partial;
	report(now_ms(), 1);
	if (sock >= 0)
		close(sock);
	return 0;
}
