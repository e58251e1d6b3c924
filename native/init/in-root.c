/* Paths inside the container root, resolved so that no symlink can lead out of it. */
#include "init.h"

/* Open a path inside root without letting it (or a symlink in it) leave root. */
int open_in_root(int root_fd, const char *path, int flags)
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
int mkdirs_in_root(int root_fd, const char *path, mode_t mode)
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
int parent_in_root(int root_fd, const char *path, char *base_out, size_t base_size)
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
int open_parent_dir_in_root(int root_fd, const char *path, char *base, size_t base_size)
{
	int dir = parent_in_root(root_fd, path, base, base_size), real, e;
	if (dir < 0)
		return -1;
	real = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	close(dir);
	errno = e;
	return real;
}

/* MKDIR_IN_ROOT: a0 mode; s: path (mkdir -p inside the root). */
int op_mkdir_in_root(struct init_state *s, const struct tsr_op *op)
{
	int fd = mkdirs_in_root(s->root_fd, op_str(op, 0), (mode_t)op->a[0]);
	return fd < 0 ? -1 : close(fd);
}

/* MKFILE_IN_ROOT: a0 mode; s: path. An empty file to mount on; what is already there is kept. */
int op_mkfile_in_root(struct init_state *s, const struct tsr_op *op)
{
	char base[256];
	int real = open_parent_dir_in_root(s->root_fd, op_str(op, 0), base, sizeof base), fd;
	if (real < 0)
		return -1;
	fd = openat(real, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, (mode_t)op->a[0]);
	if (fd < 0 && (errno == EISDIR || errno == ELOOP))
		fd = openat(real, base, O_PATH | O_CLOEXEC); /* already there */
	close(real);
	return fd < 0 ? -1 : close(fd);
}

/* SYMLINK_IN_ROOT: s: target linkpath; an existing link is kept. */
int op_symlink_in_root(struct init_state *s, const struct tsr_op *op)
{
	char base[256];
	int real = open_parent_dir_in_root(s->root_fd, op_str(op, 1), base, sizeof base), rc;
	if (real < 0)
		return -1;
	rc = symlinkat(op_str(op, 0), real, base);
	if (rc < 0 && errno == EEXIST)
		rc = 0;
	close(real);
	return rc;
}

/* OPEN_ROOT: s: path, the root later *_IN_ROOT ops resolve in. */
int op_open_root(struct init_state *s, const struct tsr_op *op)
{
	int fd = open(op_str(op, 0), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (s->root_fd != AT_FDCWD)
		close(s->root_fd);
	s->root_fd = fd;
	return 0;
}

/* OPEN_CWD: s: path, opened in the root as a directory for CHDIR (no magic link, no way out). */
int op_open_cwd(struct init_state *s, const struct tsr_op *op)
{
	if (s->cwd_fd >= 0)
		close(s->cwd_fd);
	s->cwd_fd = open_in_root(s->root_fd, op_str(op, 0), O_PATH | O_DIRECTORY);
	return s->cwd_fd < 0 ? -1 : 0;
}
