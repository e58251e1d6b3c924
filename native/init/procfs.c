/*
 * The init's only ways to /proc and /dev/null. Both are opened once, when the init starts and
 * still sees the runtime's own mounts, and checked (a real procfs; the 1:3 character device):
 * later, once the container's mounts exist, a path such as /proc/self/fd/N or /dev/null is
 * the container's to replace (a bind over /proc, a symlinked /dev/null in the image).
 */
#include "init.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static int proc_fd = -1, devnull_fd = -1, devnull_errno = ENODEV, filtered;
/* After procfs_narrow: our own /proc/<pid>/fd, the only part of /proc still held. */
static int fd_dir = -1;

int procfs_init(void)
{
	struct statfs sfs;
	struct stat st;
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC) {
		close(fd);
		errno = ENOTSUP;
		return -1;
	}
	proc_fd = fd;
	/* Only masked paths need it: a missing or fake /dev/null is an error there, not here. */
	fd = open("/dev/null", O_PATH | O_CLOEXEC);
	if (fd < 0) {
		devnull_errno = errno;
	} else if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
		close(fd);
	} else {
		devnull_fd = fd;
	}
	return 0;
}

/*
 * Open rel ("self/oom_score_adj", "sys/net/ipv4/ip_forward") under the verified /proc: beneath
 * it, crossing no mount (a bind inside /proc) and following no magic link; "self" is the only
 * symlink on such paths and stays beneath.
 */
int proc_open(const char *rel, int flags)
{
	struct open_how how;
	int fd;
	if (fd_dir >= 0) {
		if (strcmp(rel, "self/fd") != 0) {
			errno = EACCES;
			return -1;
		}
		fd = fcntl(fd_dir, F_DUPFD_CLOEXEC, 0);
		if (fd >= 0)
			lseek(fd, 0, SEEK_SET); /* the offset is shared: a walk starts from the top */
		return fd;
	}
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS;
	/*
	 * Once the container's seccomp filter is in (a few ops before the exec: the exec fifo, the
	 * fd sweep), openat2 may be refused, with any errno the profile chose (runtime-tools' default
	 * profile: EPERM). proc_fd is the runtime's own /proc, which no container mount reaches, so
	 * a plain openat there is safe; the resolve flags above are a second wall.
	 */
	if (filtered)
		return openat(proc_fd, rel, flags | O_CLOEXEC | O_NOFOLLOW);
	fd = (int)syscall(SYS_openat2, proc_fd, rel, &how, sizeof how);
	return fd;
}

void procfs_filtered(void)
{
	filtered = 1;
}

/*
 * From READY on the init needs only its own fd directory (the exec fifo's reopen, the fd sweep
 * before exec): the handle on the whole of the runtime's /proc (and so on /proc/1/root, the
 * host's /) is closed, so nothing that reaches the waiting init (a ptracer with
 * CAP_SYS_PTRACE in a created container) finds it there.
 */
int procfs_narrow(void)
{
	int dir = proc_open("self/fd", O_RDONLY | O_DIRECTORY);
	if (dir < 0)
		return -1;
	close(proc_fd);
	proc_fd = -1;
	fd_dir = dir;
	return 0;
}

int proc_write(const char *rel, const char *contents)
{
	int fd = proc_open(rel, O_WRONLY | O_NOFOLLOW);
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

/* Reopen one of our fds (an O_PATH fd) with real access flags, through our own fd directory. */
int reopen_fd(int fd, int flags)
{
	char name[24];
	int dir = proc_open("self/fd", O_PATH | O_DIRECTORY), rc, e;
	if (dir < 0)
		return -1;
	fmt_uint(name, (unsigned long)fd);
	do
		rc = openat(dir, name, flags | O_CLOEXEC);
	while (rc < 0 && errno == EINTR);
	e = errno;
	close(dir);
	errno = e;
	return rc;
}

/*
 * mount(2) with the source and/or the target given as fds (-1: use the string). mount(2) takes
 * paths, so the fds are named relative to our verified /proc/self/fd, made the cwd for the call
 * (the magic links there lead to the files themselves, whatever the container's paths say).
 */
int mount_fds(int src_fd, const char *src, int target_fd, const char *fstype, unsigned long flags, const void *data)
{
	char s[24], t[24];
	int dir, cwd, rc, e;

	dir = proc_open("self/fd", O_PATH | O_DIRECTORY);
	if (dir < 0)
		return -1;
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(dir) < 0) {
		e = errno;
		if (cwd >= 0)
			close(cwd);
		close(dir);
		errno = e;
		return -1;
	}
	fmt_uint(t, (unsigned long)target_fd);
	if (src_fd >= 0)
		fmt_uint(s, (unsigned long)src_fd);
	rc = mount(src_fd >= 0 ? s : src, t, fstype, flags, data);
	e = errno;
	if (fchdir(cwd) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	close(cwd);
	close(dir);
	errno = e;
	return rc;
}

/*
 * The /dev/null to bind over masked files: the container's own when it really is the null
 * device (as runc does, so the mask shows the container's /dev mount flags), else the runtime's,
 * verified at start. Opened without following a symlink and bound by fd: an image whose
 * /dev/null points elsewhere cannot send that file over the masked paths (CVE-2025-31133).
 * Returns an fd to close, or -1 with errno.
 */
int devnull_for(int root_fd)
{
	struct stat st;
	int fd = open_in_root(root_fd, "/dev/null", O_PATH | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
		return fd;
	if (fd >= 0)
		close(fd);
	if (devnull_fd < 0) {
		errno = devnull_errno;
		return -1;
	}
	return fcntl(devnull_fd, F_DUPFD_CLOEXEC, 0);
}

int on_procfs(int fd)
{
	struct statfs sfs;
	return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

/* WRITE_PROC: s: path under /proc, contents. */
int op_write_proc(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return proc_write(op_str(op, 0), op_str(op, 1));
}
