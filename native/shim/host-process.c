/*
 * Host-side helpers that need a syscall Node does not offer, for the commands that act on an
 * existing container (src/native/host-process.ts). Part of libtsrshim.so; never run in a
 * container process: ordinary libc is fine here.
 *
 *  - tsr_read_in_root: read a file of a container's root filesystem (its /etc/passwd) with every
 *    path component resolved inside that root, as the container itself would see it.
 *  - tsr_ns_type: which kind of namespace an open nsfs file is, for a clear error before a
 *    container is made rather than setns's bare EINVAL inside it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* linux/nsfs.h: _IO(0xb7, 0x3), since Linux 4.11 */
#ifndef NS_GET_NSTYPE
#define NS_GET_NSTYPE 0xb703
#endif

/*
 * Read up to len bytes of the regular file at path inside root. Symlinks and ".." are resolved
 * as if root were "/" (RESOLVE_IN_ROOT), magic links (/proc/self/fd/N, /proc/N/root) are refused.
 * Returns the number of bytes read (len means: possibly more), or -errno; a file that is not a
 * regular file (a fifo, a device) gives -EINVAL, without blocking on it.
 */
int tsr_read_in_root(const char *root, const char *path, uint8_t *buf, uint32_t len)
{
	struct open_how how;
	struct stat st;
	uint32_t got = 0;
	int root_fd, fd, err = 0;

	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	while (*path == '/')
		path++;
	fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
	err = fd < 0 ? -errno : 0;
	close(root_fd);
	if (fd < 0)
		return err;
	if (fstat(fd, &st) < 0) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
	} else {
		while (got < len) {
			ssize_t n = read(fd, buf + got, len - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				err = -errno;
				break;
			}
			if (n == 0)
				break;
			got += (uint32_t)n;
		}
	}
	close(fd);
	return err < 0 ? err : (int)got;
}

/*
 * The CLONE_NEW* flag of the namespace fd refers to, or -errno: -ENOTTY when fd is not an nsfs
 * file or the kernel predates NS_GET_NSTYPE (the caller then leaves the check to setns).
 */
int tsr_ns_type(int fd)
{
	int type = ioctl(fd, NS_GET_NSTYPE);
	return type < 0 ? -errno : type;
}
