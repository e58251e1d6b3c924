/* Process ops: files, capabilities, signals, fds, exec, startContainer hooks, the terminal, config fields. */
#include "init.h"

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

/* Close every fd from `from` on (close_range, or the /proc walk when a seccomp profile refuses it). */
int close_fds_from(int from)
{
	int dir;
	if (syscall(SYS_close_range, from, ~0U, 0) == 0)
		return 0;
	dir = proc_open("self/fd", O_RDONLY | O_DIRECTORY);
	if (dir < 0 || cloexec_walk(dir, from) < 0)
		return -1;
	/* Marked close-on-exec: the execve that follows closes them. */
	return 0;
}

/*
 * Enter cwd (opened inside the root by OPEN_CWD, so no magic link such as /proc/self/fd/N and
 * no symlink out of it) and check it is reachable from the root: a cwd outside the root would
 * let the process walk to the host's / with ".." (the CVE-2024-21626 class). As runc, only
 * ENOENT or "(unreachable)" from getcwd fail: a seccomp filter may refuse getcwd itself.
 */
int do_chdir_checked(int cwd_fd)
{
	static char buf[4096];
	long n;
	if (fchdir(cwd_fd) < 0)
		return -1;
	n = syscall(SYS_getcwd, buf, sizeof buf);
	if ((n < 0 && errno == ENOENT) || (n > 0 && buf[0] != '/')) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

int do_exec(const struct tsr_op *op, const struct exec_arrays *ex, const char *path)
{
	int keep = (int)op->a[2], fd;
	/* libuv marked stdio close-on-exec at Node start-up; the container must keep it. */
	for (fd = 0; fd < 3 + keep; fd++)
		fcntl(fd, F_SETFD, 0);
	/* Nothing else of the runtime's may cross into the container. */
	if (syscall(SYS_close_range, 3 + keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		int dir = proc_open("self/fd", O_RDONLY | O_DIRECTORY);
		if (dir < 0 || cloexec_walk(dir, 3 + keep) < 0)
			return -1;
	}
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
		/* The hook gets the state on stdin and our stdio, nothing else: not the fds the
		 * container is given (--preserve-fds), nor any of ours. */
		if (dup3(p[0], 0, 0) < 0 || close_fds_from(3) < 0)
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
int do_setup_pty(int root_fd, int sync_fd, int op_index, int bind_console)
{
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
