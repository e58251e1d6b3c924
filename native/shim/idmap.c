/*
 * Id-mapped mounts, made on the runtime's side (src/native/idmap.ts, src/launch/idmap-mounts.ts).
 *
 * mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user namespace that owns the source's
 * filesystem (the initial one, for a host path): a container init in a user namespace of its own
 * is refused (EPERM). So the runtime makes the mount here, detached (open_tree OPEN_TREE_CLONE),
 * before the init exists, and the init moves it into place inside the root (MOVE_MOUNT_IN_ROOT).
 *
 * The mapping comes from a user namespace fd: a throwaway namespace holding the maps, made by
 * tsr_userns_fd. Its process lives only until the fd is open; the namespace lives on in the fd,
 * and in the mount once the idmap is set.
 */
#include "shim.h"
#include <stdio.h>

/* Write a whole map in one write(2), as the kernel requires. */
static int write_map(int pid, const char *file, const char *map)
{
	char path[64];
	size_t len = strlen(map);
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, map, len);
	e = n < 0 ? errno : EINVAL;
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	errno = e;
	return -1;
}

/*
 * A new user namespace with these maps ("inside outside count" lines) as an fd (close-on-exec),
 * or -errno with *step saying what failed: 1 clone, 2 uid_map, 3 gid_map, 4 opening ns/user.
 * The process made for it has exited and been reaped when this returns.
 */
int tsr_userns_fd(const char *uid_map, const char *gid_map, int32_t *step)
{
	char path[64];
	sigset_t all, old;
	int pipefd[2], pid, fd = -1, err = 0;

	*step = 1;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	/* No signal may run a Node handler in the child: block them all across clone() (spawn.c). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Fork-like (no stack, no CLONE_VM): the zero arguments make the architecture's order moot. */
	pid = (int)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
	if (pid == 0) {
		/* A copy of Node: raw syscalls only. Wait until the runtime closes its end (or dies). */
		char c;
		close(pipefd[1]);
		while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(pipefd[0]);
	if (pid < 0) {
		close(pipefd[1]);
		return -err;
	}
	*step = 2;
	if (write_map(pid, "uid_map", uid_map) == 0) {
		*step = 3;
		if (write_map(pid, "gid_map", gid_map) == 0) {
			*step = 4;
			snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	err = fd < 0 ? errno : 0;
	close(pipefd[1]);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	if (fd < 0)
		return -err;
	*step = 0;
	return fd;
}

/* tsr_idmapped_mount's flags. */
#define TSR_IDMAP_RBIND 1     /* the whole tree under source, as rbind */
#define TSR_IDMAP_RECURSIVE 2 /* the mapping on every mount of that tree (ridmap), not only its top */

/*
 * A detached bind of source, id-mapped with the maps of the user namespace userns_fd: a mount fd
 * (close-on-exec) for MOVE_MOUNT_IN_ROOT, or -errno with *step: 1 open_tree, 2 propagation,
 * 3 MOUNT_ATTR_IDMAP.
 */
int tsr_idmapped_mount(const char *source, int userns_fd, uint32_t flags, int32_t *step)
{
	struct mount_attr attr;
	int fd, e;

	*step = 1;
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, source,
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (flags & TSR_IDMAP_RBIND ? AT_RECURSIVE : 0));
	if (fd < 0)
		return -errno;
	/*
	 * A clone of a shared mount joins its peer group: what the container mounts under it would
	 * show on the host. Slave, as a bind made in the init's rslave copy of our mounts would be.
	 */
	*step = 2;
	memset(&attr, 0, sizeof attr);
	attr.propagation = MS_SLAVE;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
		goto fail;
	*step = 3;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (uint64_t)userns_fd;
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (flags & TSR_IDMAP_RECURSIVE ? AT_RECURSIVE : 0), &attr, sizeof attr) < 0)
		goto fail;
	*step = 0;
	return fd;
fail:
	e = errno;
	close(fd);
	return -e;
}

/*
 * Whether this kernel has mount_setattr(2) (Linux 5.12), hence id-mapped mounts: a zero-sized
 * attribute is refused with EINVAL before anything is looked at; ENOSYS (or a filter's errno)
 * means no.
 */
int tsr_idmap_supported(void)
{
	return syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, NULL, 0) < 0 && errno == EINVAL;
}
