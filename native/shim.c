/*
 * tsruntime's native shim, loaded into Node through koffi (src/native/shim.ts).
 *
 * It is a dumb executor: TypeScript decides everything and hands over a plan (plan.h); this
 * file clones the container init and runs the plan's ops in it, reporting the first failure
 * as (op index, errno) so TypeScript can say which step failed and why.
 *
 * Rules for the code that runs in the cloned child (see ../shared/NOTES-native.md): the child
 * is a copy of a multithreaded Node process, so between clone() and execve() it may use only
 * raw syscalls and thin syscall wrappers: no malloc, no stdio, no locale, no setxid wrappers
 * (glibc broadcasts those to threads that do not exist in the child). Everything it needs is
 * prepared in the parent before clone() and read from its copy-on-write memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "plan.h"

#define CHILD_STACK_SIZE (1024 * 1024)
#define MAX_OPS 65536

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct exec_arrays {
	char **argv;
	char **envp;
};

/* Everything the child reads, built by the parent. */
struct child_ctx {
	const struct tsr_op **ops;
	uint32_t op_count;
	struct exec_arrays *execs; /* per op index, only for TSR_OP_EXEC */
	int sync_fd;               /* the child's end */
	int parent_sync_fd;        /* the parent's end: closed first thing in the child */
};

/* ---------- helpers safe in the child ---------- */

/* The i-th NUL-terminated string of an op's payload (0-based). */
static const char *op_str(const struct tsr_op *op, int i)
{
	const char *p = op->data;
	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

static int op_str_present(const struct tsr_op *op, int i)
{
	return (op->a[1] >> i) & 1;
}

static size_t fmt_uint(char *out, unsigned long v)
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

/* "/proc/self/fd/N" for an fd, into buf (at least 32 bytes). */
static const char *fd_path(char *buf, int fd)
{
	memcpy(buf, "/proc/self/fd/", 14);
	fmt_uint(buf + 14, (unsigned long)fd);
	return buf;
}

static int send_msg(int fd, int kind, int op, int err)
{
	struct tsr_msg m = { kind, op, err, 0 };
	ssize_t n;
	do
		n = write(fd, &m, sizeof m);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof m ? 0 : -1;
}

static int wait_byte(int fd)
{
	char c;
	ssize_t n;
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* Open a path inside root without letting it (or a symlink in it) leave root. */
static int open_in_root(int root_fd, const char *path, int flags)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

/*
 * mkdir -p of path inside root: each prefix is resolved in root, so a symlink in the rootfs
 * can never make us create directories on the host. A dangling symlink on the way is followed
 * inside root (its target is created there, as runc's MkdirAllInRoot does). Returns an O_PATH
 * fd of the last directory, or -1.
 */
static int mkdirs_in_root(int root_fd, const char *path, mode_t mode)
{
	char buf[4096], link[4096];
	size_t len = strlen(path), i;
	int parent = -1, fd, hops = 0;

	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
restart:
	parent = open_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
	if (parent < 0)
		return -1;
	i = 0;
	while (i < len) {
		size_t start, end;
		while (i < len && buf[i] == '/')
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && buf[i] != '/')
			i++;
		end = i;
		buf[end] = 0;
		fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(parent, buf + start, mode) < 0 && errno != EEXIST) {
				close(parent);
				return -1;
			}
			fd = open_in_root(root_fd, buf, O_PATH | O_DIRECTORY);
			if (fd < 0 && errno == ENOENT) {
				/* A dangling symlink: go on with its target (resolved in root) in its place. */
				ssize_t n = readlinkat(parent, buf + start, link, sizeof link);
				size_t pre, rest = end < len ? len - end - 1 : 0;
				if (n <= 0 || (size_t)n >= sizeof link) {
					close(parent);
					errno = ENOENT;
					return -1;
				}
				pre = link[0] == '/' ? 0 : start;
				if (++hops > 40 || pre + (size_t)n + 1 + rest >= sizeof buf) {
					close(parent);
					errno = hops > 40 ? ELOOP : ENAMETOOLONG;
					return -1;
				}
				/* buf = buf[0, pre) + link + "/" + rest; the rest moves first. */
				memmove(buf + pre + n + 1, buf + end + 1, rest);
				memcpy(buf + pre, link, (size_t)n);
				buf[pre + n] = '/';
				len = pre + (size_t)n + 1 + rest;
				buf[len] = 0;
				close(parent);
				goto restart;
			}
		}
		if (end < len)
			buf[end] = '/';
		if (fd < 0) {
			int e = errno;
			close(parent);
			errno = e;
			return -1;
		}
		close(parent);
		parent = fd;
	}
	return parent;
}

/* Split path into the directory fd (created) and the last component. */
static int parent_in_root(int root_fd, const char *path, char *base_out, size_t base_size)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	const char *base = slash ? slash + 1 : path;
	if (dlen >= sizeof dir || strlen(base) >= base_size || !*base) {
		errno = EINVAL;
		return -1;
	}
	memcpy(dir, path, dlen);
	dir[dlen] = 0;
	strcpy(base_out, base);
	return mkdirs_in_root(root_fd, dir, 0755);
}

/*
 * The directory that will hold path's last component, created inside root, as a real (not
 * O_PATH) directory fd that *at() calls can create in; base receives the last component.
 */
static int open_parent_dir_in_root(int root_fd, const char *path, char *base, size_t base_size)
{
	char proc_path[32];
	int dir = parent_in_root(root_fd, path, base, base_size), real, e;
	if (dir < 0)
		return -1;
	real = open(fd_path(proc_path, dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	close(dir);
	errno = e;
	return real;
}

static int do_mount(const struct tsr_op *op, int root_fd, int in_root)
{
	const char *src = op_str_present(op, 0) ? op_str(op, 0) : NULL;
	const char *target = op_str(op, 1);
	const char *fstype = op_str_present(op, 2) ? op_str(op, 2) : NULL;
	const char *data = op_str_present(op, 3) ? op_str(op, 3) : NULL;
	char proc_path[32];
	int fd = -1, rc, e;

	if (in_root) {
		fd = open_in_root(root_fd, target, O_PATH);
		if (fd < 0)
			return -1;
		target = fd_path(proc_path, fd);
	}
	rc = mount(src, target, fstype, (unsigned long)op->a[0], data);
	e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return rc;
}

static int do_mask_path(int root_fd, const char *path)
{
	char proc_path[32];
	struct stat st;
	int fd = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW), rc, e;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		rc = mount("tmpfs", fd_path(proc_path, fd), "tmpfs", MS_RDONLY, "size=0k");
	else
		rc = mount("/dev/null", fd_path(proc_path, fd), NULL, MS_BIND, NULL);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int do_readonly_path(int root_fd, const char *path)
{
	char proc_path[32];
	int fd = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW), rc, e;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = mount(fd_path(proc_path, fd), fd_path(proc_path, fd), NULL, MS_BIND | MS_REC, NULL);
	if (rc == 0) {
		/* Reopen: the old fd names the dentry under the new bind mount. */
		int fd2 = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW);
		if (fd2 < 0) {
			rc = -1;
		} else {
			rc = mount(NULL, fd_path(proc_path, fd2), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
			if (rc < 0 && errno == EPERM) {
				/* In a user namespace the mount's nosuid/nodev/noexec are locked: keep them. */
				struct statfs sfs;
				if (fstatfs(fd2, &sfs) == 0)
					rc = mount(NULL, fd_path(proc_path, fd2), NULL,
						   MS_BIND | MS_REMOUNT | MS_RDONLY |
							   ((unsigned long)sfs.f_flags & (ST_NOSUID | ST_NODEV | ST_NOEXEC)),
						   NULL);
			}
			e = errno;
			close(fd2);
			errno = e;
		}
	}
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int do_pivot_root(int root_fd)
{
	int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), rc = -1, e;
	if (old_root < 0)
		return -1;
	if (fchdir(root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		goto out;
	/*
	 * The old root is now stacked on the new one. "." would still name the new root's mount
	 * (the lookup of "." does not cross onto what is mounted on it): go to the old root itself
	 * before making it rslave (so the unmount does not propagate to the host), or the rslave
	 * would hit the container's mounts and turn its shared ones private.
	 */
	if (fchdir(old_root) < 0)
		goto out;
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		goto out;
	if (umount2(".", MNT_DETACH) < 0)
		goto out;
	rc = chdir("/");
out:
	e = errno;
	close(old_root);
	errno = e;
	return rc;
}

static int do_move_root(int root_fd)
{
	if (fchdir(root_fd) < 0)
		return -1;
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0)
		return -1;
	return chdir("/");
}

static int do_write_file(const char *path, const char *contents)
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

static int do_capset(uint64_t eff, uint64_t perm, uint64_t inh)
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

static void reset_signals(void)
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

static void unblock_all_signals(void)
{
	uint64_t empty = 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);
}

/*
 * close_range(from, ~0, CLOSE_RANGE_CLOEXEC) without close_range: a seccomp profile older than
 * the syscall (Docker's before 20.10, runtime-tools' generator) makes it fail with its default
 * errno. Walk /proc/self/fd with getdents64 instead (no libc allocation).
 */
static int cloexec_from(int from)
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

static int do_exec(const struct tsr_op *op, const struct exec_arrays *ex, const char *path)
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
static void write_all(int fd, const char *p, size_t n)
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

static void do_run_hook(const struct tsr_op *op, const struct exec_arrays *ex)
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

/* ---------- exec and terminals (ops 60+) ---------- */

/* sendmsg of buf with one fd attached (SCM_RIGHTS): the bytes sent, or -1. Safe in the child. */
static ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd)
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
static ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd)
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

static int send_fd_msg(int sock, int kind, int op, int fd)
{
	struct tsr_msg m = { kind, op, 0, 0 };
	return send_with_fd(sock, &m, sizeof m, fd) == (ssize_t)sizeof m ? 0 : -1;
}

/*
 * A pty from the container's own devpts: the slave becomes our controlling terminal and stdio
 * (and /dev/console), the master goes to the runtime, which proxies it or hands it to the
 * client's --console-socket.
 */
static int do_setup_pty(int sync_fd, int op_index, int bind_console)
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

/* Ops 40-59 (config fields) and their parent-side helpers. */
#include "shim-config.c"

static int child_main(void *arg)
{
	struct child_ctx *c = arg;
	const char *exec_path = NULL;
	int root_fd = AT_FDCWD, sync_fd = c->sync_fd;
	uint32_t i;

	reset_signals(); /* Node's handlers point into code that must never run here */
	close(c->parent_sync_fd);
	/* The parent places us in cgroups and writes id maps, then says go. EOF: it died. */
	if (wait_byte(sync_fd) < 0)
		_exit(1);

	for (i = 0; i < c->op_count; i++) {
		const struct tsr_op *op = c->ops[i];
		int rc = 0;
		char base[256];
		switch (op->op) {
		case TSR_OP_SETNS:
			rc = setns((int)op->a[0], (int)op->a[1]);
			break;
		case TSR_OP_UNSHARE:
			rc = unshare((int)op->a[0]);
			break;
		case TSR_OP_MOUNT:
			rc = do_mount(op, root_fd, 0);
			break;
		case TSR_OP_MOUNT_IN_ROOT:
			rc = do_mount(op, root_fd, 1);
			break;
		case TSR_OP_MKDIR_IN_ROOT: {
			int fd = mkdirs_in_root(root_fd, op_str(op, 0), (mode_t)op->a[0]);
			rc = fd < 0 ? -1 : close(fd);
			break;
		}
		case TSR_OP_MKFILE_IN_ROOT: {
			int real = open_parent_dir_in_root(root_fd, op_str(op, 0), base, sizeof base), fd;
			if (real < 0) {
				rc = -1;
				break;
			}
			fd = openat(real, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, (mode_t)op->a[0]);
			if (fd < 0 && (errno == EISDIR || errno == ELOOP))
				fd = openat(real, base, O_PATH | O_CLOEXEC); /* already there */
			close(real);
			rc = fd < 0 ? -1 : close(fd);
			break;
		}
		case TSR_OP_MKNOD_IN_ROOT: {
			int real = open_parent_dir_in_root(root_fd, op_str(op, 0), base, sizeof base);
			if (real < 0) {
				rc = -1;
				break;
			}
			unlinkat(real, base, 0); /* replace whatever the image had there */
			rc = mknodat(real, base, (mode_t)op->a[0], (dev_t)op->a[1]);
			if (rc == 0)
				rc = fchownat(real, base, (uid_t)op->a[2], (gid_t)op->a[3], AT_SYMLINK_NOFOLLOW);
			if (rc == 0)
				rc = fchmodat(real, base, (mode_t)op->a[0] & 07777, 0);
			close(real);
			break;
		}
		case TSR_OP_SYMLINK_IN_ROOT: {
			int real = open_parent_dir_in_root(root_fd, op_str(op, 1), base, sizeof base);
			if (real < 0) {
				rc = -1;
				break;
			}
			rc = symlinkat(op_str(op, 0), real, base);
			if (rc < 0 && errno == EEXIST)
				rc = 0;
			close(real);
			break;
		}
		case TSR_OP_OPEN_ROOT: {
			int fd = open(op_str(op, 0), O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				rc = -1;
				break;
			}
			if (root_fd != AT_FDCWD)
				close(root_fd);
			root_fd = fd;
			break;
		}
		case TSR_OP_PIVOT_ROOT:
			rc = do_pivot_root(root_fd);
			break;
		case TSR_OP_MOVE_ROOT:
			rc = do_move_root(root_fd);
			break;
		case TSR_OP_SETHOSTNAME:
			rc = sethostname(op_str(op, 0), strlen(op_str(op, 0)));
			break;
		case TSR_OP_SETDOMAINNAME:
			rc = setdomainname(op_str(op, 0), strlen(op_str(op, 0)));
			break;
		case TSR_OP_WRITE_FILE:
			rc = do_write_file(op_str(op, 0), op_str(op, 1));
			break;
		case TSR_OP_SETRLIMIT: {
			struct {
				uint64_t cur, max;
			} lim = { (uint64_t)op->a[1], (uint64_t)op->a[2] };
			rc = (int)syscall(SYS_prlimit64, 0, (int)op->a[0], &lim, NULL);
			break;
		}
		case TSR_OP_PRCTL:
			rc = prctl((int)op->a[0], (unsigned long)op->a[1], (unsigned long)op->a[2],
				   (unsigned long)op->a[3], 0UL);
			break;
		case TSR_OP_CAP_BOUNDING: {
			int cap;
			for (cap = 0; cap <= (int)op->a[1] && rc == 0; cap++)
				if (!((uint64_t)op->a[0] & (1ULL << cap)))
					rc = prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
			break;
		}
		case TSR_OP_SETGROUPS:
			rc = (int)syscall(SYS_setgroups, (size_t)op->a[0], (const gid_t *)op->data);
			break;
		case TSR_OP_SETRESGID:
			rc = (int)syscall(SYS_setresgid, (gid_t)op->a[0], (gid_t)op->a[0], (gid_t)op->a[0]);
			break;
		case TSR_OP_SETRESUID:
			rc = (int)syscall(SYS_setresuid, (uid_t)op->a[0], (uid_t)op->a[0], (uid_t)op->a[0]);
			break;
		case TSR_OP_CAPSET:
			rc = do_capset((uint64_t)op->a[0], (uint64_t)op->a[1], (uint64_t)op->a[2]);
			break;
		case TSR_OP_AMBIENT: {
			int cap;
			for (cap = 0; cap < 64 && rc == 0; cap++)
				if ((uint64_t)op->a[0] & (1ULL << cap))
					rc = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
			break;
		}
		case TSR_OP_CHDIR:
			rc = chdir(op_str(op, 0));
			break;
		case TSR_OP_UMASK:
			umask((mode_t)op->a[0]);
			break;
		case TSR_OP_SYNC:
			if (send_msg(sync_fd, TSR_MSG_SYNC, (int)i, 0) < 0 || wait_byte(sync_fd) < 0)
				_exit(1);
			break;
		case TSR_OP_READY:
			if (send_msg(sync_fd, TSR_MSG_READY, (int)i, 0) < 0)
				_exit(1);
			/* a0 = 1: the parent still has work before we go on (e.g. joining a frozen cgroup). */
			if (op->a[0] && wait_byte(sync_fd) < 0)
				_exit(1);
			close(sync_fd);
			sync_fd = -1;
			break;
		case TSR_OP_WAIT_FIFO: {
			char proc_path[32];
			int fd;
			do
				fd = open(fd_path(proc_path, (int)op->a[0]), O_WRONLY | O_CLOEXEC);
			while (fd < 0 && errno == EINTR);
			if (fd < 0) {
				rc = -1;
				break;
			}
			rc = write(fd, "0", 1) == 1 ? 0 : -1;
			close(fd);
			close((int)op->a[0]);
			break;
		}
		case TSR_OP_FIND_EXEC: {
			int n = (int)op->a[0], k, saw_eacces = 0;
			exec_path = NULL;
			for (k = 0; k < n; k++) {
				const char *cand = op_str(op, k);
				struct stat st;
				if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
					if (access(cand, X_OK) == 0) {
						exec_path = cand;
						break;
					}
					saw_eacces = 1;
				} else if (errno == EACCES) {
					saw_eacces = 1;
				}
			}
			if (!exec_path) {
				errno = saw_eacces ? EACCES : ENOENT;
				rc = -1;
			}
			break;
		}
		case TSR_OP_EXEC:
			if (!exec_path) {
				errno = ENOENT;
				rc = -1;
				break;
			}
			rc = do_exec(op, &c->execs[i], exec_path);
			break;
		case TSR_OP_SECCOMP: {
			struct sock_fprog prog = { (unsigned short)op->a[0], (struct sock_filter *)op->data };
			rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)op->a[1], &prog);
			break;
		}
		case TSR_OP_SETSID:
			rc = setsid() < 0 ? -1 : 0;
			break;
		case TSR_OP_MASK_PATH:
			rc = do_mask_path(root_fd, op_str(op, 0));
			break;
		case TSR_OP_READONLY_PATH:
			rc = do_readonly_path(root_fd, op_str(op, 0));
			break;
		case TSR_OP_CLOSE:
			rc = close((int)op->a[0]);
			break;
		case TSR_OP_REMOUNT_RO_ROOT: {
			char proc_path[32];
			rc = mount(NULL, fd_path(proc_path, root_fd), NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL);
			break;
		}
		case TSR_OP_MOUNT_SETATTR: {
			struct mount_attr attr;
			int fd = open_in_root(root_fd, op_str(op, 0), O_PATH);
			if (fd < 0) {
				rc = -1;
				break;
			}
			memset(&attr, 0, sizeof attr);
			attr.attr_set = (uint64_t)op->a[0];
			attr.attr_clr = (uint64_t)op->a[1];
			attr.propagation = (uint64_t)op->a[2];
			rc = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (unsigned int)op->a[3], &attr,
					  sizeof attr);
			{
				int e = errno;
				close(fd);
				errno = e;
			}
			break;
		}
		case TSR_OP_SET_PDEATHSIG:
			rc = prctl(PR_SET_PDEATHSIG, (unsigned long)op->a[0], 0, 0, 0);
			break;
		case TSR_OP_FORK: {
			/* fork-like raw clone (no stack: the child runs on its copy of ours). */
			long child = syscall(SYS_clone, (unsigned long)op->a[0] | SIGCHLD, 0, 0, 0, 0);
			if (child < 0) {
				rc = -1;
				break;
			}
			if (child > 0) {
				send_msg(sync_fd, TSR_MSG_PID, (int)i, (int)child);
				_exit(0);
			}
			break;
		}
		case TSR_OP_SETUP_PTY:
			rc = do_setup_pty(sync_fd, (int)i, (int)op->a[0]);
			break;
		case TSR_OP_RUN_HOOK:
			do_run_hook(op, &c->execs[i]);
			break;
		case TSR_OP_WRITE_FD: {
			const char *data = op_str(op, 0);
			ssize_t n;
			do
				n = write((int)op->a[0], data, strlen(data));
			while (n < 0 && errno == EINTR);
			rc = n < 0 ? -1 : 0;
			{
				int e = errno;
				close((int)op->a[0]);
				errno = e;
			}
			break;
		}
		default:
			if (op->op >= 40 && op->op < 60) { /* config fields: shim-config.c */
				rc = tsr_config_op(op, root_fd);
				break;
			}
			errno = ENOSYS;
			rc = -1;
		}
		if (rc < 0) {
			int e = errno;
			if (sync_fd >= 0) {
				send_msg(sync_fd, TSR_MSG_ERROR, (int)i, e);
			} else {
				/* After READY nobody listens on the socket: say it on the container's stderr. */
				char msg[96] = "tsruntime: container init: step ";
				size_t n = strlen(msg);
				n += fmt_uint(msg + n, i);
				memcpy(msg + n, " failed, errno ", 15);
				n += 15;
				n += fmt_uint(msg + n, (unsigned long)e);
				msg[n++] = '\n';
				if (write(2, msg, n) < 0) {
				}
			}
			_exit(e == ENOENT ? 127 : e == EACCES ? 126 : 1);
		}
	}
	_exit(0);
}

/* ---------- the parent side, called from Node ---------- */

/* clone3's argument, spelled out here: <linux/sched.h> clashes with glibc's <sched.h>. */
struct tsr_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define TSR_CLONE_INTO_CGROUP 0x200000000ULL

/*
 * Clone the container init and return its pid, or -errno. The plan is copied into the child
 * by clone (no CLONE_VM), so the caller may free it once this returns.
 *
 * cgroup_fd >= 0: born in that cgroup v2 directory (clone3 CLONE_INTO_CGROUP), which spares
 * a migration: moving a process with cgroup.procs waits for an RCU grace period (~15 ms here).
 */
int tsr_spawn(const uint8_t *plan, uint32_t plan_len, uint64_t clone_flags, int child_sync_fd, int parent_sync_fd,
	      int cgroup_fd)
{
	const struct tsr_plan_header *hdr = (const void *)plan;
	struct child_ctx ctx;
	sigset_t all, old;
	char *stack;
	uint32_t i, off;
	int pid, err;

	if (plan_len < sizeof *hdr || hdr->magic != TSR_PLAN_MAGIC || hdr->op_count > MAX_OPS)
		return -EINVAL;
	memset(&ctx, 0, sizeof ctx);
	ctx.op_count = hdr->op_count;
	ctx.sync_fd = child_sync_fd;
	ctx.parent_sync_fd = parent_sync_fd;
	ctx.ops = calloc(hdr->op_count + 1, sizeof *ctx.ops);
	ctx.execs = calloc(hdr->op_count + 1, sizeof *ctx.execs);
	if (!ctx.ops || !ctx.execs) {
		err = -ENOMEM;
		goto out;
	}
	off = sizeof *hdr;
	for (i = 0; i < hdr->op_count; i++) {
		const struct tsr_op *op = (const void *)(plan + off);
		if (off + sizeof *op > plan_len || op->size < sizeof *op || op->size % 8 || off + op->size > plan_len) {
			err = -EINVAL;
			goto out;
		}
		ctx.ops[i] = op;
		if (op->op == TSR_OP_EXEC || op->op == TSR_OP_RUN_HOOK) {
			/* RUN_HOOK's strings start with the path; EXEC's with argv. */
			int argc = (int)op->a[0], envc = (int)op->a[1], k, first = op->op == TSR_OP_RUN_HOOK;
			char **argv = calloc((size_t)argc + 1, sizeof *argv);
			char **envp = calloc((size_t)envc + 1, sizeof *envp);
			if (!argv || !envp) {
				free(argv);
				free(envp);
				err = -ENOMEM;
				goto out;
			}
			for (k = 0; k < argc; k++)
				argv[k] = (char *)op_str(op, first + k);
			for (k = 0; k < envc; k++)
				envp[k] = (char *)op_str(op, first + argc + k);
			ctx.execs[i].argv = argv;
			ctx.execs[i].envp = envp;
		}
		off += op->size;
	}

	stack = malloc(CHILD_STACK_SIZE);
	if (!stack) {
		err = -ENOMEM;
		goto out;
	}
	/* No signal may run a Node handler in the child: block them all across clone(). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (cgroup_fd >= 0) {
		struct tsr_clone_args args;
		memset(&args, 0, sizeof args);
		args.flags = clone_flags | TSR_CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)cgroup_fd;
		/* No stack: fork-like, the child runs on its copy of ours and never returns from here. */
		pid = (int)syscall(SYS_clone3, &args, sizeof args);
		if (pid == 0)
			child_main(&ctx);
	} else {
		pid = clone(child_main, stack + CHILD_STACK_SIZE, (int)(clone_flags | SIGCHLD), &ctx);
	}
	err = pid < 0 ? -errno : pid;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
out:
	if (ctx.execs)
		for (i = 0; i < ctx.op_count; i++) {
			free(ctx.execs[i].argv);
			free(ctx.execs[i].envp);
		}
	free(ctx.execs);
	free(ctx.ops);
	return err;
}

/*
 * Read one message from the init; returns 0, or -errno (-EPIPE on EOF: the init died).
 * *passed_fd is an fd sent along with it (SCM_RIGHTS, close-on-exec here), or -1.
 */
int tsr_read_msg(int fd, int32_t *kind, int32_t *op, int32_t *err, int32_t *passed_fd)
{
	struct tsr_msg m;
	int passed = -1;
	ssize_t n = recv_with_fd(fd, &m, sizeof m, &passed);
	*passed_fd = passed;
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof m)
		return -EPIPE;
	*kind = m.kind;
	*op = m.op;
	*err = m.err;
	return 0;
}

/* An AF_UNIX socket of this type, and addr filled in for path: the socket, or -errno. */
static int unix_socket(const char *path, int type, struct sockaddr_un *addr)
{
	int sock;
	if (strlen(path) >= sizeof addr->sun_path)
		return -ENAMETOOLONG;
	sock = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	memset(addr, 0, sizeof *addr);
	addr->sun_family = AF_UNIX;
	strcpy(addr->sun_path, path);
	return sock;
}

/*
 * Hand a pty master to a client's --console-socket the way runc does: connect to the unix
 * stream socket and send the fd with SCM_RIGHTS, its name as the payload.
 */
int tsr_send_console(const char *socket_path, int fd, const char *name)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_STREAM, &addr), rc;
	if (sock < 0)
		return sock;
	if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
		rc = -errno;
	else
		rc = send_with_fd(sock, name, strlen(name), fd) < 0 ? -errno : 0;
	close(sock);
	return rc;
}

/* Window size of a terminal (the pty master), as TIOCSWINSZ takes it. */
int tsr_set_winsize(int fd, uint32_t rows, uint32_t cols)
{
	struct winsize ws;
	memset(&ws, 0, sizeof ws);
	ws.ws_row = (unsigned short)rows;
	ws.ws_col = (unsigned short)cols;
	return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

/* Blocking socketpair for the sync channel; both ends close-on-exec. */
int tsr_socketpair(int *fds)
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0;
}

int tsr_mkfifo(const char *path, uint32_t mode)
{
	return mkfifo(path, (mode_t)mode) < 0 ? -errno : 0;
}

/* waitpid for `run`: returns the raw status, or -errno. Called off the main thread. */
int tsr_wait(int pid)
{
	int status, rc;
	do
		rc = waitpid(pid, &status, __WALL);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : status;
}

int tsr_set_subreaper(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 ? -errno : 0;
}

int tsr_write_byte(int fd)
{
	ssize_t n;
	do
		n = write(fd, "g", 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -errno;
}

/*
 * The receiving end of --console-socket, as conmon and containerd's shim implement it: for
 * tests and for library users that want the pty themselves. listen → a listening socket;
 * accept → the fd that arrived on the first connection (blocking: call it off the main thread).
 */
int tsr_console_listen(const char *socket_path)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_STREAM, &addr), rc;
	if (sock < 0)
		return sock;
	if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(sock, 1) < 0) {
		rc = -errno;
		close(sock);
		return rc;
	}
	return sock;
}

int tsr_console_accept(int listen_fd)
{
	char name[256];
	int conn, fd = -EBADMSG;

	do
		conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0)
		return -errno;
	if (recv_with_fd(conn, name, sizeof name, &fd) < 0)
		fd = -errno;
	close(conn);
	return fd;
}

/*
 * sd_notify relay (NOTIFY_SOCKET), as runc does it: a datagram socket in the container's state
 * directory, bind-mounted into the container, whose READY=1 the runtime passes on to the host's
 * socket.
 */
int tsr_dgram_bind(const char *socket_path)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_DGRAM, &addr), rc;
	if (sock < 0)
		return sock;
	unlink(socket_path);
	if (bind(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
		rc = -errno;
		close(sock);
		return rc;
	}
	chmod(socket_path, 0777); /* any user in the container may notify */
	return sock;
}

/* One datagram into buf (NUL-terminated); 0 on timeout, -errno on error. */
int tsr_dgram_recv(int fd, char *buf, int len, int timeout_ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int rc = poll(&p, 1, timeout_ms);
	if (rc <= 0)
		return rc < 0 ? -errno : 0;
	n = recv(fd, buf, (size_t)len - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return n > 0 ? (int)n : 1;
}

int tsr_dgram_send(const char *socket_path, const char *buf, int len)
{
	struct sockaddr_un addr;
	int sock = unix_socket(socket_path, SOCK_DGRAM, &addr), rc = 0;
	size_t plen = strlen(socket_path);
	if (sock < 0)
		return sock;
	/* sd_notify's abstract-namespace form: a leading '@' stands for the NUL byte. */
	if (addr.sun_path[0] == '@')
		addr.sun_path[0] = 0;
	if (sendto(sock, buf, (size_t)len, 0, (struct sockaddr *)&addr,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen)) < 0)
		rc = -errno;
	close(sock);
	return rc;
}
