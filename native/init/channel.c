/* The init's side of the sync socket and of its fds: sync points, ready, the exec fifo, the fork, the terminal. */
#include "init.h"

/* SYNC: tell the runtime we reached this op and wait for its byte (it runs hooks, writes id maps). */
int op_sync(struct init_state *s, const struct tsr_op *op)
{
	(void)op;
	if (send_msg(s->sync_fd, TSR_MSG_SYNC, (int)s->index, 0, 0) < 0 || wait_byte(s->sync_fd) < 0)
		_exit(1); /* the runtime died */
	return 0;
}

/*
 * MARK: tell the runtime the time now. Plans have these at the boundaries of their op groups
 * only when the runtime traces (--debug), so a normal run reads no clock.
 */
int op_mark(struct init_state *s, const struct tsr_op *op)
{
	struct tsr_msg m = { TSR_MSG_MARK, (int32_t)s->index, 0, 0, 0 };
	struct timespec ts;
	ssize_t n;
	(void)op;
	if (s->sync_fd < 0)
		return 0;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		return -1;
	m.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	do
		n = write(s->sync_fd, &m, sizeof m);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof m)
		_exit(1); /* the runtime died */
	return 0;
}

/* READY: setup is done (a0 1: wait for the runtime's byte first); a1..a3: exit codes from here on. */
int op_ready(struct init_state *s, const struct tsr_op *op)
{
	s->exit_enoent = op->a[1];
	s->exit_eacces = op->a[2];
	s->exit_other = op->a[3];
	if (procfs_narrow() < 0)
		return -1;
	if (send_msg(s->sync_fd, TSR_MSG_READY, (int)s->index, 0, 0) < 0)
		_exit(1);
	/* a0 = 1: the runtime still has work before we go on (e.g. joining a frozen cgroup). */
	if (op->a[0] && wait_byte(s->sync_fd) < 0)
		_exit(1);
	close(s->sync_fd);
	s->sync_fd = -1;
	return 0;
}

/* WAIT_FIFO: a0 O_PATH fd of the exec fifo: reopen it for writing, which blocks until `start`. */
int op_wait_fifo(struct init_state *s, const struct tsr_op *op)
{
	int fd = reopen_fd((int)op->a[0], O_WRONLY), rc;
	(void)s;
	if (fd < 0)
		return -1;
	rc = write(fd, "0", 1) == 1 ? 0 : -1;
	close(fd);
	close((int)op->a[0]);
	return rc;
}

/*
 * FORK: a0 clone flags. The child goes on with the plan; we report its pid and exit. Both share
 * the sync socket, so the child waits on a pipe until we are gone: otherwise its first message
 * (READY, SYNC, an error) can reach the runtime before our PID one, and the runtime would take
 * us for the process (join us to a frozen cgroup, write our pid to --pid-file, run hooks with it).
 */
int op_fork(struct init_state *s, const struct tsr_op *op)
{
	int gate[2], e;
	long child;
	ssize_t n;
	char c;
	if (pipe2(gate, O_CLOEXEC) < 0)
		return -1;
	/* fork-like raw clone (no stack: the child runs on its copy of ours). */
	child = syscall(SYS_clone, (unsigned long)op->a[0] | SIGCHLD, 0, 0, 0, 0);
	if (child < 0) {
		e = errno;
		close(gate[0]);
		close(gate[1]);
		errno = e;
		return -1;
	}
	if (child > 0) {
		close(gate[0]);
		send_msg(s->sync_fd, TSR_MSG_PID, (int)s->index, 0, (int)child);
		_exit(0); /* closes gate[1]: the child's read sees EOF */
	}
	close(gate[1]);
	do
		n = read(gate[0], &c, 1);
	while (n < 0 && errno == EINTR);
	close(gate[0]);
	return 0;
}

/* WRITE_FD: a0 fd; s: data: write it, then close the fd (joining a v1 cgroup through its tasks file). */
int op_write_fd(struct init_state *s, const struct tsr_op *op)
{
	const char *data = op_str(op, 0);
	ssize_t n;
	int e;
	(void)s;
	do
		n = write((int)op->a[0], data, strlen(data));
	while (n < 0 && errno == EINTR);
	e = errno;
	close((int)op->a[0]);
	errno = e;
	return n < 0 ? -1 : 0;
}

int op_close(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return close((int)op->a[0]);
}

/*
 * /dev/console for the pty slave to be bound on, opened inside the root without following a
 * symlink: an image's /dev/console symlink is replaced by an empty file, so the bind cannot be
 * sent elsewhere (onto a file of the image, or a procfs file such as /proc/self/attr/exec).
 */
static int console_target(int root_fd)
{
	char base[256];
	struct stat st;
	int dir = open_parent_dir_in_root(root_fd, "/dev/console", base, sizeof base), fd, e;
	if (dir < 0)
		return -1;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		unlinkat(dir, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0);
	fd = openat(dir, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		fd = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	e = errno;
	close(dir);
	if (fd >= 0 && (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)))) {
		close(fd);
		e = EEXIST;
		fd = -1;
	}
	errno = e;
	return fd;
}

/*
 * A pty from the container's own devpts: the slave becomes our controlling terminal and stdio
 * (and /dev/console), the master goes to the runtime, which proxies it or hands it to the
 * client's --console-socket. Both ends are found from the root by fd (TIOCGPTPEER for the
 * slave), never by a path the container could have replaced.
 */
int op_setup_pty(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd, sync_fd = s->sync_fd, op_index = (int)s->index, bind_console = (int)op->a[0];
	int unlock = 0, master, slave = -1, fd, e;

	master = open_in_root(root_fd, "/dev/ptmx", O_RDWR | O_NOCTTY);
	if (master < 0)
		return -1;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		goto fail;
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail;
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		goto fail;
	for (fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0)
			goto fail;
	if (bind_console) {
		int target = console_target(root_fd), rc;
		if (target < 0)
			goto fail;
		rc = mount_fds(slave, NULL, target, NULL, MS_BIND, NULL);
		e = errno;
		close(target);
		errno = e;
		if (rc < 0)
			goto fail;
	}
	if (slave > 2)
		close(slave);
	slave = -1;
	if (send_fd_msg(sync_fd, TSR_MSG_FD, op_index, master) < 0)
		goto fail;
	close(master);
	return 0;
fail:
	e = errno;
	if (slave > 2)
		close(slave);
	close(master);
	errno = e;
	return -1;
}
