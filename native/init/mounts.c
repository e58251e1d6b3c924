/* Mount ops: mounts in root, masked and read-only paths, pivot_root, bind remounts, devices. */
#include "init.h"

/*
 * The target of a mount into the root, resolved in root (O_PATH); with refuse_procfs (the ops'
 * a2), one that resolves onto a procfs (a destination reaching /proc through a symlink) fails
 * with EXDEV: nothing may be mounted over /proc's files.
 */
static int open_mount_target(int root_fd, const char *path, int refuse_procfs)
{
	int fd = open_in_root(root_fd, path, O_PATH);
	if (fd >= 0 && refuse_procfs && on_procfs(fd)) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

/*
 * MOUNT (a0 flags; target a plain path: / before or after pivot_root) and MOUNT_IN_ROOT (target
 * resolved inside the root). MOUNT_IN_ROOT's a2 = 1: the resolved target must not be on a
 * procfs (a destination that reaches /proc through a symlink; EXDEV).
 */
static int do_mount(const struct tsr_op *op, int root_fd, int in_root)
{
	const char *src = op_str_present(op, 0) ? op_str(op, 0) : NULL;
	const char *target = op_str(op, 1);
	const char *fstype = op_str_present(op, 2) ? op_str(op, 2) : NULL;
	const char *data = op_str_present(op, 3) ? op_str(op, 3) : NULL;
	int fd, rc, e;

	if (!in_root)
		return mount(src, target, fstype, (unsigned long)op->a[0], data);
	fd = open_mount_target(root_fd, target, op->a[2] != 0);
	if (fd < 0)
		return -1;
	rc = mount_fds(-1, src, fd, fstype, (unsigned long)op->a[0], data);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int op_mount(struct init_state *s, const struct tsr_op *op)
{
	return do_mount(op, s->root_fd, 0);
}

int op_mount_in_root(struct init_state *s, const struct tsr_op *op)
{
	return do_mount(op, s->root_fd, 1);
}

/* A masked path: a verified /dev/null over a file, an empty read-only tmpfs over a directory. */
int op_mask_path(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	const char *path = op_str(op, 0);
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
	if (S_ISDIR(st.st_mode)) {
		rc = mount_fds(-1, "tmpfs", fd, "tmpfs", MS_RDONLY, "size=0k");
	} else {
		int null = devnull_for(root_fd);
		rc = null < 0 ? -1 : mount_fds(null, NULL, fd, NULL, MS_BIND, NULL);
		e = errno;
		if (null >= 0)
			close(null);
		errno = e;
	}
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/*
 * A read-only path: bound onto itself, then made read-only with everything mounted under it
 * (mount_setattr AT_RECURSIVE: a submount must not stay writable). mount_setattr only adds
 * MOUNT_ATTR_RDONLY, so flags locked by a more privileged mount namespace are left as they are.
 */
int op_readonly_path(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	const char *path = op_str(op, 0);
	struct mount_attr attr;
	int fd = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW), fd2, rc, e;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	rc = mount_fds(fd, NULL, fd, NULL, MS_BIND | MS_REC, NULL);
	e = errno;
	close(fd);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	/* Reopen: the old fd names the dentry under the new bind mount. */
	fd2 = open_in_root(root_fd, path, O_PATH | O_NOFOLLOW);
	if (fd2 < 0)
		return -1;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = MOUNT_ATTR_RDONLY;
	rc = (int)syscall(SYS_mount_setattr, fd2, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
	e = errno;
	close(fd2);
	errno = e;
	return rc;
}

int op_pivot_root(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	int old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), rc = -1, e;
	(void)op;
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

int op_move_root(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	(void)op;
	if (fchdir(root_fd) < 0)
		return -1;
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		return -1;
	if (chroot(".") < 0)
		return -1;
	return chdir("/");
}

/* Statfs f_flags that differ from the MS_* flag of the same meaning. */
#ifndef ST_RELATIME
#define ST_RELATIME 4096
#endif
#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000
#endif

/* Per-mount flags that a less privileged mount namespace cannot change (runc: mntLockFlags). */
#define TSR_LOCK_FLAGS (MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)
#define TSR_ATIME_FLAGS (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)

static unsigned long statfs_to_ms(unsigned long f)
{
	unsigned long ms = 0;
	if (f & ST_RDONLY)
		ms |= MS_RDONLY;
	if (f & ST_NOSUID)
		ms |= MS_NOSUID;
	if (f & ST_NODEV)
		ms |= MS_NODEV;
	if (f & ST_NOEXEC)
		ms |= MS_NOEXEC;
	if (f & ST_NOATIME)
		ms |= MS_NOATIME;
	if (f & ST_NODIRATIME)
		ms |= MS_NODIRATIME;
	if (f & ST_RELATIME)
		ms |= MS_RELATIME;
	if (f & ST_NOSYMFOLLOW)
		ms |= MS_NOSYMFOLLOW;
	return ms;
}

/*
 * TSR_OP_BIND_REMOUNT: apply mount flags to a bind mount (which ignores them on the first
 * MS_BIND). As runc does: first exactly the requested flags; when that is refused (EPERM: the
 * mount has flags locked by a more privileged mount namespace), the locked flags the mount
 * already has are kept, unless the user explicitly asked to clear one of them.
 */
int op_bind_remount(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	unsigned long flags = (unsigned long)op->a[0] | MS_BIND | MS_REMOUNT;
	unsigned long cleared = (unsigned long)op->a[1];
	struct statfs st;
	unsigned long have;
	int fd = open_in_root(root_fd, op_str(op, 0), O_PATH), rc, e;

	if (fd < 0)
		return -1;
	rc = mount_fds(-1, NULL, fd, NULL, flags, NULL);
	if (rc < 0 && errno == EPERM && fstatfs(fd, &st) == 0) {
		have = statfs_to_ms((unsigned long)st.f_flags);
		if ((have & cleared & TSR_LOCK_FLAGS) ||
		    ((flags & TSR_ATIME_FLAGS) && (flags & TSR_ATIME_FLAGS) != (have & TSR_ATIME_FLAGS))) {
			errno = EPERM;
		} else {
			flags |= have & TSR_LOCK_FLAGS;
			rc = mount_fds(-1, NULL, fd, NULL, flags, NULL);
		}
	}
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/*
 * TSR_OP_PARENT_MOUNT_PROPAGATION: set propagation on the mount that holds path (walking up
 * until mount(2) stops saying EINVAL, "not a mount point"). pivot_root refuses a shared parent.
 */
int op_parent_mount_propagation(struct init_state *s, const struct tsr_op *op)
{
	char buf[4096];
	size_t len = strlen(op_str(op, 0));
	(void)s;
	if (len == 0 || len >= sizeof buf) {
		errno = EINVAL;
		return -1;
	}
	memcpy(buf, op_str(op, 0), len + 1);
	for (;;) {
		char *slash;
		if (mount(NULL, buf, NULL, (unsigned long)op->a[0], NULL) == 0)
			return 0;
		if (errno != EINVAL || strcmp(buf, "/") == 0)
			return -1;
		slash = strrchr(buf, '/');
		if (slash == buf)
			buf[1] = 0;
		else if (slash)
			*slash = 0;
		else
			return -1;
	}
}

/* TSR_OP_DEVICE_IN_ROOT: a device node that must end up exactly as asked. */
int op_device_in_root(struct init_state *s, const struct tsr_op *op)
{
	int root_fd = s->root_fd;
	char base[256];
	mode_t mode = (mode_t)op->a[0];
	dev_t dev = (dev_t)op->a[1];
	struct stat st;
	int dir = parent_in_root(root_fd, op_str(op, 0), base, sizeof base), real, rc, e;

	if (dir < 0)
		return -1;
	real = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dir);
	if (real < 0)
		return -1;
	if (fstatat(real, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* runtime-spec: a file that does not match the requested device is an error. */
		if ((st.st_mode & S_IFMT) != (mode & S_IFMT) || (!S_ISFIFO(mode) && st.st_rdev != dev)) {
			close(real);
			errno = EEXIST;
			return -1;
		}
		rc = 0;
	} else if (errno == ENOENT) {
		rc = mknodat(real, base, mode, dev);
	} else {
		rc = -1;
	}
	if (rc == 0)
		rc = fchownat(real, base, (uid_t)op->a[2], (gid_t)op->a[3], AT_SYMLINK_NOFOLLOW);
	if (rc == 0)
		rc = fchmodat(real, base, mode & 07777, 0);
	e = errno;
	close(real);
	errno = e;
	return rc;
}

/* CHROOT: into the open root (no mount namespace of its own: no pivot_root, no MS_MOVE). */
int op_chroot(struct init_state *s, const struct tsr_op *op)
{
	(void)op;
	if (fchdir(s->root_fd) < 0 || chroot(".") < 0)
		return -1;
	return chdir("/");
}

/* MOUNT_SETATTR: a0 attr_set, a1 attr_clr, a2 propagation, a3 flags (AT_RECURSIVE); s: path in root. */
int op_mount_setattr(struct init_state *s, const struct tsr_op *op)
{
	struct mount_attr attr;
	int fd = open_in_root(s->root_fd, op_str(op, 0), O_PATH), rc, e;
	if (fd < 0)
		return -1;
	memset(&attr, 0, sizeof attr);
	attr.attr_set = (uint64_t)op->a[0];
	attr.attr_clr = (uint64_t)op->a[1];
	attr.propagation = (uint64_t)op->a[2];
	rc = (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | (unsigned int)op->a[3], &attr, sizeof attr);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

/*
 * MOVE_MOUNT_IN_ROOT: a0 a detached mount the runtime made (an id-mapped bind: MOUNT_ATTR_IDMAP
 * needs privilege over the source's filesystem that an init in a user namespace lacks), a2 as
 * MOUNT_IN_ROOT's; s: target, resolved in root. The fd is closed either way: it must not reach
 * the container's process.
 */
int op_move_mount_in_root(struct init_state *s, const struct tsr_op *op)
{
	int from = (int)op->a[0], to, rc = -1, e;

	to = open_mount_target(s->root_fd, op_str(op, 0), op->a[2] != 0);
	if (to >= 0)
		rc = (int)syscall(SYS_move_mount, from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	e = errno;
	if (to >= 0)
		close(to);
	close(from);
	errno = e;
	return rc;
}
