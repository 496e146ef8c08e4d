// SPDX-License-Identifier: Apache-2.0
/*
 * Frames to the agent over a unix stream socket (the sidecar listens on a path in a shared
 * volume). The workload never waits for the agent: frames are queued in a bounded buffer and
 * written without blocking; when the agent is absent or slow and the buffer is full, frames are
 * dropped and counted. Every (re)connection starts with VIGIL_CTL_READY (clock pair) and a
 * VIGIL_CTL_STATS frame whose `drops` tells the agent how many frames it missed (the gap).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "trace.h"

#define RECONNECT_MIN_NS (200ULL * 1000000ULL)
#define RECONNECT_MAX_NS (2000ULL * 1000000ULL)
#define STATS_EVERY_NS (2000ULL * 1000000ULL)
/* Frames are written in batches: at this many bytes, or when the oldest waited this long (the
 * tracer's alarm also flushes an idle buffer). One send per frame would add a syscall to every
 * traced stop. */
#define FLUSH_BYTES (32 * 1024)
#define FLUSH_NS (20ULL * 1000000ULL)

static struct {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned char *buf;
	size_t cap, start, len;
	size_t front_sent; /* bytes of the first queued frame already written */
	int fd;
	__u64 next_attempt, backoff, last_stats, oldest;
	__u32 programs;
	bool verbose, logged_absent;
	struct out_stats st;
} o = { .fd = -1 };

void out_set_programs(__u32 n)
{
	o.programs = n;
}

const struct out_stats *out_get_stats(void)
{
	return &o.st;
}

void out_init(const char *path, size_t cap, bool verbose)
{
	snprintf(o.path, sizeof(o.path), "%s", path);
	o.cap = cap;
	o.buf = malloc(cap);
	if (!o.buf)
		o.cap = 0;
	o.verbose = verbose;
	o.backoff = RECONNECT_MIN_NS;
}

static void ctl_header(struct vigil_hdr *h, __u16 type, __u32 size)
{
	memset(h, 0, sizeof(*h));
	h->size = size;
	h->type = type;
	h->version = VIGIL_WIRE_VERSION;
	h->ts = boottime_ns();
	h->pid = (__u32)getpid();
	h->tid = h->pid;
	h->loginuid = 0xffffffffu;
	memcpy(h->comm, "vigil-trace", 12);
}

/* Writes a small control frame directly (the socket's buffer is empty right after connect). */
static int write_now(const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = send(o.fd, (const char *)p + done, n - done, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = o.fd, .events = POLLOUT };
			int pr;

			do
				pr = poll(&pf, 1, 100);
			while (pr < 0 && errno == EINTR);
			if (pr <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static int send_ready(void)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_ready)];
	struct vigil_ctl_ready r = { 0 };

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_READY, sizeof(f));
	r.realtime_ns = realtime_ns();
	r.boottime_ns = boottime_ns();
	r.ncpus = 1;
	r.programs = o.programs;
	memcpy(f + VIGIL_HDR_SIZE, &r, sizeof(r));
	return write_now(f, sizeof(f));
}

static int send_stats(void)
{
	unsigned char f[VIGIL_HDR_SIZE + sizeof(struct vigil_ctl_stats) + 8];
	struct vigil_ctl_stats s = { 0 };

	ctl_header((struct vigil_hdr *)f, VIGIL_CTL_STATS, sizeof(f));
	s.realtime_ns = realtime_ns();
	s.boottime_ns = boottime_ns();
	s.drops = o.st.dropped;
	s.events = o.st.frames;
	s.frames_out = o.st.sent;
	s.ncpus = 1;
	s.programs = o.programs;
	memcpy(f + VIGIL_HDR_SIZE, &s, sizeof(s));
	memcpy(f + VIGIL_HDR_SIZE + sizeof(s), &o.st.dropped, 8);
	o.last_stats = boottime_ns();
	return write_now(f, sizeof(f));
}

static void disconnect(void)
{
	if (o.fd >= 0)
		close(o.fd);
	o.fd = -1;
	/* a frame cut in the middle cannot be resumed on a new connection */
	if (o.front_sent > 0 && o.len >= 4) {
		__u32 size;

		memcpy(&size, o.buf + o.start, 4);
		if (size > o.len)
			size = (__u32)o.len;
		o.start += size;
		o.len -= size;
		o.st.dropped++;
	}
	o.front_sent = 0;
	o.next_attempt = boottime_ns() + o.backoff;
}

static void try_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	__u64 now = boottime_ns();

	if (now < o.next_attempt || o.path[0] == 0)
		return;
	memcpy(a.sun_path, o.path, sizeof(a.sun_path));
	o.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o.fd < 0 || connect(o.fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (o.verbose || !o.logged_absent)
			fprintf(stderr, "vigil-trace: agent socket %s not reachable (%s); the workload runs, frames are buffered\n",
				o.path, strerror(errno));
		o.logged_absent = true;
		if (o.fd >= 0)
			close(o.fd);
		o.fd = -1;
		o.next_attempt = now + o.backoff;
		o.backoff = o.backoff * 2 > RECONNECT_MAX_NS ? RECONNECT_MAX_NS : o.backoff * 2;
		return;
	}
	o.backoff = RECONNECT_MIN_NS;
	o.st.connects++;
	if (o.verbose)
		fprintf(stderr, "vigil-trace: connected to %s\n", o.path);
	o.logged_absent = false;
	if (send_ready() != 0 || send_stats() != 0)
		disconnect();
}

void out_pump(void)
{
	if (o.fd < 0)
		try_connect();
	if (o.fd < 0)
		return;
	if (boottime_ns() - o.last_stats > STATS_EVERY_NS && o.front_sent == 0 && send_stats() != 0) {
		disconnect();
		return;
	}
	while (o.len > 0) {
		size_t off = o.front_sent;
		ssize_t w = send(o.fd, o.buf + o.start + off, o.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w <= 0) {
			disconnect();
			return;
		}
		off += (size_t)w;
		/* retire whole frames */
		while (o.len >= 4) {
			__u32 size;

			memcpy(&size, o.buf + o.start, 4);
			if (size > off)
				break;
			o.start += size;
			o.len -= size;
			off -= size;
			o.st.sent++;
		}
		o.front_sent = off;
	}
	o.start = 0;
}

void out_frame(const void *data, size_t size)
{
	o.st.frames++;
	if (o.len + size > o.cap) {
		out_pump(); /* make room if the agent is reading */
		if (o.len + size > o.cap) {
			o.st.dropped++;
			return;
		}
	}
	if (o.start + o.len + size > o.cap) {
		memmove(o.buf, o.buf + o.start, o.len);
		o.start = 0;
	}
	memcpy(o.buf + o.start + o.len, data, size);
	if (o.len == 0)
		o.oldest = boottime_ns();
	o.len += size;
	if (o.len >= FLUSH_BYTES || boottime_ns() - o.oldest >= FLUSH_NS)
		out_pump();
}

void out_flush_final(int timeout_ms)
{
	__u64 end = boottime_ns() + (__u64)timeout_ms * 1000000ULL;

	o.next_attempt = 0;
	while (boottime_ns() < end) {
		struct pollfd pf;

		out_pump();
		if (o.fd < 0)
			return; /* the agent is absent: the workload's exit must not wait for it */
		if (o.len == 0) {
			send_stats();
			return;
		}
		pf.fd = o.fd;
		pf.events = POLLOUT;
		poll(&pf, 1, 50);
	}
}
