/* Small helpers shared by the init's files: op payloads, numbers, the sync socket, fd passing. */
#include "init.h"

/* The i-th NUL-terminated string of an op's payload (0-based). */
const char *op_str(const struct tsr_op *op, int i)
{
	const char *p = op->data;
	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

int op_str_present(const struct tsr_op *op, int i)
{
	return (op->a[1] >> i) & 1;
}

size_t fmt_uint(char *out, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = 0;
	return n;
}

int send_msg(int fd, int kind, int op, int err, int value)
{
	struct tsr_msg m = { kind, op, err, value, 0 };
	ssize_t n;
	do
		n = write(fd, &m, sizeof m);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof m ? 0 : -1;
}

int wait_byte(int fd)
{
	char c;
	ssize_t n;
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* Write all of p; gives up quietly on EPIPE (a hook that does not read its stdin). */
void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* EPIPE: the hook does not read its stdin */
		p += w;
		n -= (size_t)w;
	}
}

/* sendmsg of buf with one fd attached (SCM_RIGHTS): the bytes sent, or -1. Safe in the child. */
ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { (void *)buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	struct cmsghdr *c;
	memset(&msg, 0, sizeof msg);
	memset(&u, 0, sizeof u);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(sock, &msg, 0);
}

/* recvmsg into buf; an fd sent along lands in *fd (close-on-exec). Bytes received, or -1. */
ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd)
{
	struct iovec iov = { buf, len };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return n;
}

int send_fd_msg(int sock, int kind, int op, int fd)
{
	struct tsr_msg m = { kind, op, 0, 0, 0 };
	return send_with_fd(sock, &m, sizeof m, fd) == (ssize_t)sizeof m ? 0 : -1;
}

/*
 * close_range(from, ~0, CLOSE_RANGE_CLOEXEC) without close_range: a seccomp profile older than
 * the syscall (Docker's before 20.10, runtime-tools' generator) makes it fail with its default
 * errno. Walks dir, an open /proc/self/fd the caller trusts, with getdents64 (no allocation);
 * closes dir.
 */
int cloexec_walk(int dir, int from)
{
	char buf[2048];
	long n;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
		long off = 0;
		while (off < n) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			int fd = 0;
			const char *c = d->name;
			if (*c >= '0' && *c <= '9') {
				while (*c >= '0' && *c <= '9')
					fd = fd * 10 + (*c++ - '0');
				if (fd >= from && fd != dir)
					fcntl(fd, F_SETFD, FD_CLOEXEC);
			}
			off += d->reclen;
		}
	}
	close(dir);
	return n < 0 ? -1 : 0;
}

/*
 * Mark every fd from `from` on close-on-exec, walking /proc/self/fd by path when close_range is
 * refused: only for callers whose / and /proc are still the host's (the runtime's clone before
 * it execs tsr-init, a host-side hook).
 */
int mark_cloexec_from(int from)
{
	int dir;
	if (syscall(SYS_close_range, from, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dir < 0 ? -1 : cloexec_walk(dir, from);
}

/* Every signal back to its default action (Node installed handlers; SIG_IGN survives exec). */
void reset_signals(void)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} sa;
	int sig;
	memset(&sa, 0, sizeof sa);
	sa.handler = SIG_DFL;
	for (sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		syscall(SYS_rt_sigaction, sig, &sa, NULL, 8);
	}
}

void unblock_all_signals(void)
{
	uint64_t empty = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);
}
