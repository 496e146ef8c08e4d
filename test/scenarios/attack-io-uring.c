// SPDX-License-Identifier: Apache-2.0
/*
 * vigil-attack's io_uring modes (included by attack.c): file and network operations submitted
 * through a ring set up with the raw syscalls (io_uring_setup, mmap of the rings, io_uring_enter;
 * no liburing), so that none of them passes the openat/read/write/connect syscall tracepoints.
 * With IORING_SETUP_SQPOLL a kernel thread of the process polls the ring: the process makes no
 * syscall at all per operation.
 *
 * Exit codes: 0 done, 2 io_uring_setup refused (errno printed: EPERM under a seccomp profile that
 * blocks io_uring, ENOSYS when compiled out), 3 an operation failed (its -errno printed).
 */
#include <linux/io_uring.h>

struct ring {
	int fd;
	int sqpoll;
	unsigned *sq_tail, *sq_mask, *sq_array, *sq_flags;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r, unsigned flags)
{
	struct io_uring_params p;
	size_t sqsz, cqsz;
	void *sq, *cq;

	memset(&p, 0, sizeof(p));
	p.flags = flags;
	if (flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = 2000;
	r->sqpoll = (flags & IORING_SETUP_SQPOLL) != 0;
	r->fd = (int)syscall(__NR_io_uring_setup, 8, &p);
	if (r->fd < 0) {
		fprintf(stderr, "io_uring_setup: %s\n", strerror(errno));
		return -1;
	}
	sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (cqsz > sqsz)
			sqsz = cqsz;
		cqsz = sqsz;
	}
	sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -1;
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		     ? sq
		     : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		return -1;
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -1;
	r->sq_tail = (unsigned *)((char *)sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)((char *)sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)((char *)sq + p.sq_off.array);
	r->sq_flags = (unsigned *)((char *)sq + p.sq_off.flags);
	r->cq_head = (unsigned *)((char *)cq + p.cq_off.head);
	r->cq_tail = (unsigned *)((char *)cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)((char *)cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);
	return 0;
}

/* Submits one request and waits for its completion: returns the cqe's res (-errno on failure). */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, i = tail & *r->sq_mask, head;
	int res;

	r->sqes[i] = *sqe;
	r->sq_array[i] = i;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (r->sqpoll) {
		if (__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP)
			syscall(__NR_io_uring_enter, r->fd, 0, 0, IORING_ENTER_SQ_WAKEUP, NULL, 0);
	} else if (syscall(__NR_io_uring_enter, r->fd, 1, 0, 0, NULL, 0) < 0)
		return -errno;
	head = *r->cq_head;
	while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		if (syscall(__NR_io_uring_enter, r->fd, 0, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR)
			return -errno;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int uring_openat(struct ring *r, const char *path, int flags, int mode)
{
	struct io_uring_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_OPENAT;
	s.fd = AT_FDCWD;
	s.addr = (unsigned long)path;
	s.open_flags = (unsigned)flags;
	s.len = (unsigned)mode;
	return ring_run(r, &s);
}

static int uring_rw(struct ring *r, int op, int fd, void *buf, unsigned len)
{
	struct io_uring_sqe s;

	memset(&s, 0, sizeof(s));
	s.opcode = (unsigned char)op;
	s.fd = fd;
	s.addr = (unsigned long)buf;
	s.len = len;
	s.off = (unsigned long long)-1; /* the file position, as read(2)/write(2) */
	return ring_run(r, &s);
}

static int fail(const char *what, int res)
{
	fprintf(stderr, "%s: %s\n", what, strerror(-res));
	return 3;
}

/* uring-read PATH [sqpoll]: open PATH and read it through the ring, copying it to /dev/null (opened
 * through the ring too). */
static int mode_uring_read(const char *path, int sqpoll)
{
	struct ring r;
	char buf[4096];
	int fd, out, n;

	if (ring_init(&r, sqpoll ? IORING_SETUP_SQPOLL : 0) < 0)
		return 2;
	fd = uring_openat(&r, path, O_RDONLY, 0);
	if (fd < 0)
		return fail("openat", fd);
	out = uring_openat(&r, "/dev/null", O_WRONLY, 0);
	if (out < 0)
		return fail("openat /dev/null", out);
	while ((n = uring_rw(&r, IORING_OP_READ, fd, buf, sizeof(buf))) > 0)
		if (uring_rw(&r, IORING_OP_WRITE, out, buf, (unsigned)n) != n)
			return fail("write", -EIO);
	return n < 0 ? fail("read", n) : 0;
}

/* uring-write PATH DATA: open PATH for appending (created if missing) and write DATA + "\n", all
 * through the ring. */
static int mode_uring_write(const char *path, const char *data)
{
	struct ring r;
	char line[4096];
	int fd, n;

	if (ring_init(&r, 0) < 0)
		return 2;
	fd = uring_openat(&r, path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0)
		return fail("openat", fd);
	n = snprintf(line, sizeof(line), "%s\n", data);
	n = uring_rw(&r, IORING_OP_WRITE, fd, line, (unsigned)n);
	return n < 0 ? fail("write", n) : 0;
}

/* uring-connect HOST PORT [PAYLOAD]: a TCP socket connected and written to through the ring (the
 * socket itself from socket(2)). */
static int mode_uring_connect(const char *host, int port, const char *payload)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct io_uring_sqe s;
	struct ring r;
	int fd, res;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return 64;
	if (ring_init(&r, 0) < 0)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket", -errno);
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_CONNECT;
	s.fd = fd;
	s.addr = (unsigned long)&a;
	s.off = sizeof(a); /* addr2: the address length */
	res = ring_run(&r, &s);
	if (res < 0)
		return fail("connect", res);
	if (payload) {
		memset(&s, 0, sizeof(s));
		s.opcode = IORING_OP_SEND;
		s.fd = fd;
		s.addr = (unsigned long)payload;
		s.len = (unsigned)strlen(payload);
		res = ring_run(&r, &s);
		if (res < 0)
			return fail("send", res);
	}
	usleep(100000);
	return 0;
}
