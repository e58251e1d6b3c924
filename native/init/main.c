/* The init's op loop: runs a launch plan op by op and reports the first failure. */
#include "init.h"

int child_main(void *arg)
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
