/* Process ops: files, capabilities, signals, fds, exec, startContainer hooks, the terminal, config fields. */
#include "init.h"

int do_write_file(const char *path, const char *contents)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = strlen(contents), off = 0;
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, contents + off, len - off);
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			errno = e;
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

int do_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}

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

/*
 * close_range(from, ~0, CLOSE_RANGE_CLOEXEC) without close_range: a seccomp profile older than
 * the syscall (Docker's before 20.10, runtime-tools' generator) makes it fail with its default
 * errno. Walk /proc/self/fd with getdents64 instead (no libc allocation).
 */
int cloexec_from(int from)
{
	char buf[2048];
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;
	if (dir < 0)
		return -1;
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

int do_exec(const struct tsr_op *op, const struct exec_arrays *ex, const char *path)
{
	int keep = (int)op->a[2], fd;
	/* libuv marked stdio close-on-exec at Node start-up; the container must keep it. */
	for (fd = 0; fd < 3 + keep; fd++)
		fcntl(fd, F_SETFD, 0);
	/* Nothing else of the runtime's may cross into the container. */
	if (syscall(SYS_close_range, 3 + keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0 && cloexec_from(3 + keep) < 0)
		return -1;
	unblock_all_signals();
	execve(path, ex->argv, ex->envp);
	return -1;
}


/*
 * A startContainer hook, run by the init after `start` and before the user process, inside the
 * container (runtime.md). The sync socket is closed by now: a failure is told on stderr and
 * ends the init, so the user process never runs.
 */
void do_run_hook(const struct tsr_op *op, const struct exec_arrays *ex)
{
	int argc = (int)op->a[0], envc = (int)op->a[1], p[2], status = 0;
	const char *path = op_str(op, 0);
	const char *before = op_str(op, 1 + argc + envc), *after = op_str(op, 2 + argc + envc);
	char num[24], msg[160] = "tsruntime: startContainer hook ";
	long child;
	size_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	child = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (child < 0)
		goto fail;
	if (child == 0) {
		if (dup3(p[0], 0, 0) < 0)
			_exit(127);
		unblock_all_signals();
		execve(path, ex->argv, ex->envp);
		_exit(127);
	}
	close(p[0]);
	write_all(p[1], before, strlen(before));
	n = fmt_uint(num, (unsigned long)getpid());
	write_all(p[1], num, n);
	write_all(p[1], after, strlen(after));
	close(p[1]);
	while (wait4((pid_t)child, &status, 0, NULL) < 0)
		if (errno != EINTR)
			goto fail;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
fail:
	n = strlen(msg);
	strncpy(msg + n, path, 100);
	n = strlen(msg);
	memcpy(msg + n, " failed\n", 8);
	write_all(2, msg, n + 8);
	_exit(1);
}


/*
 * A pty from the container's own devpts: the slave becomes our controlling terminal and stdio
 * (and /dev/console), the master goes to the runtime, which proxies it or hands it to the
 * client's --console-socket.
 */
int do_setup_pty(int sync_fd, int op_index, int bind_console)
{
	char slave_path[40] = "/dev/pts/";
	unsigned int n = 0;
	int unlock = 0, master, slave, fd;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -1;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		goto fail;
	fmt_uint(slave_path + 9, n);
	slave = open(slave_path, O_RDWR | O_NOCTTY);
	if (slave < 0)
		goto fail;
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		goto fail_slave;
	for (fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0)
			goto fail_slave;
	if (bind_console) {
		fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
			goto fail_slave;
	}
	if (slave > 2)
		close(slave);
	if (send_fd_msg(sync_fd, TSR_MSG_FD, op_index, master) < 0)
		goto fail;
	close(master);
	return 0;
fail_slave:
	{
		int e = errno;
		if (slave > 2)
			close(slave);
		errno = e;
	}
fail:
	{
		int e = errno;
		close(master);
		errno = e;
	}
	return -1;
}

/* TSR_OP_LOOPBACK_UP: a new network namespace starts with "lo" down. */
int do_loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc, e;
	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	e = errno;
	close(s);
	errno = e;
	return rc;
}

/* The child side: one op of 40-59. Returns 0 or -1 with errno. */
int tsr_config_op(const struct tsr_op *op, int root_fd)
{
	switch (op->op) {
	case TSR_OP_PERSONALITY:
		return syscall(SYS_personality, (unsigned long)op->a[0]) < 0 ? -1 : 0;
	case TSR_OP_SCHED_SETATTR:
		return (int)syscall(SYS_sched_setattr, 0, op->data, 0);
	case TSR_OP_IOPRIO_SET:
		return (int)syscall(SYS_ioprio_set, (int)op->a[0], (int)op->a[1], (int)op->a[2]);
	case TSR_OP_SCHED_AFFINITY:
		return (int)syscall(SYS_sched_setaffinity, 0, (size_t)op->a[0], op->data);
	case TSR_OP_SET_MEMPOLICY:
		return (int)syscall(SYS_set_mempolicy, (int)op->a[0], op->a[1] ? (const unsigned long *)op->data : NULL,
				    (unsigned long)op->a[1]);
	case TSR_OP_PARENT_MOUNT_PROPAGATION:
		return do_parent_mount_propagation(op);
	case TSR_OP_BIND_REMOUNT:
		return do_bind_remount(op, root_fd);
	case TSR_OP_LOOPBACK_UP:
		return do_loopback_up();
	case TSR_OP_DEVICE_IN_ROOT:
		return do_device_in_root(op, root_fd);
	case TSR_OP_CHROOT:
		if (fchdir(root_fd) < 0 || chroot(".") < 0)
			return -1;
		return chdir("/");
	default:
		errno = ENOSYS;
		return -1;
	}
}
