/*
 * tsr-init: the program every process the runtime starts for a container runs first (the
 * container's init, an exec'd process, a startContainer hook's parent). The runtime clones
 * itself and at once executes this program from a sealed memfd (native/shim/spawn.c), so no process
 * the container can see has a host binary as its /proc/self/exe (the CVE-2019-5736 class):
 * what the kernel shows there is a sealed copy that nothing can write.
 *
 *   tsr-init plan SYNC_FD PLAN_FD   run a launch plan (plan.h) op by op, report on SYNC_FD
 *   tsr-init hook PATH ARGV0 ARG... exec a hook with stdio only (the runtime's host-side hooks)
 *
 * It is a program of its own, single-threaded and statically linked, so unlike code in a clone
 * of Node it could use libc freely; it keeps to raw syscalls to stay small and predictable.
 */
#include "init.h"

static void run_plan(const struct child_ctx *c)
{
	const char *exec_path = NULL;
	int root_fd = AT_FDCWD, cwd_fd = -1, sync_fd = c->sync_fd;
	uint32_t i;

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
		case TSR_OP_WRITE_PROC:
			rc = proc_write(op_str(op, 0), op_str(op, 1));
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
		case TSR_OP_OPEN_CWD:
			if (cwd_fd >= 0)
				close(cwd_fd);
			cwd_fd = open_in_root(root_fd, op_str(op, 0), O_PATH | O_DIRECTORY);
			rc = cwd_fd < 0 ? -1 : 0;
			break;
		case TSR_OP_CHDIR:
			rc = do_chdir_checked(cwd_fd);
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
			/* Blocks until `start` opens the fifo for reading. */
			int fd = reopen_fd((int)op->a[0], O_WRONLY);
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
			if (rc == 0)
				procfs_filtered();
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
			rc = do_setup_pty(root_fd, sync_fd, (int)i, (int)op->a[0]);
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
			if (op->op >= 40 && op->op < 60) { /* config fields: process.c */
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

/* Before the first op: tell the runtime which step failed, and stop. */
static void fail_step(int sync_fd, int step)
{
	int e = errno;
	send_msg(sync_fd, TSR_MSG_ERROR, step, e);
	_exit(1);
}

/* The next NUL-terminated string of a payload, or NULL when it would run past end. */
static const char *next_str(const char **p, const char *end)
{
	const char *s = *p, *nul = s < end ? memchr(s, 0, (size_t)(end - s)) : NULL;
	if (!nul)
		return NULL;
	*p = nul + 1;
	return s;
}

/*
 * Read and check the plan from plan_fd, and index it: one pointer per op, and argv/envp arrays
 * for EXEC and RUN_HOOK built in one pass over their strings (linear in the config's size).
 */
static int load_plan(int plan_fd, struct child_ctx *c)
{
	const struct tsr_plan_header *hdr;
	struct stat st;
	uint8_t *plan;
	size_t len, got = 0, off;
	uint32_t i;

	if (fstat(plan_fd, &st) < 0)
		return -1;
	len = (size_t)st.st_size;
	plan = malloc(len + 1);
	if (!plan)
		return -1;
	while (got < len) {
		ssize_t n = pread(plan_fd, plan + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			errno = n == 0 ? EINVAL : errno;
			return -1;
		}
		got += (size_t)n;
	}
	close(plan_fd);
	hdr = (const void *)plan;
	if (len < sizeof *hdr || hdr->magic != TSR_PLAN_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	c->op_count = hdr->op_count;
	c->ops = calloc((size_t)hdr->op_count + 1, sizeof *c->ops);
	c->execs = calloc((size_t)hdr->op_count + 1, sizeof *c->execs);
	if (!c->ops || !c->execs)
		return -1;
	off = sizeof *hdr;
	for (i = 0; i < hdr->op_count; i++) {
		const struct tsr_op *op = (const void *)(plan + off);
		if (off + sizeof *op > len || op->size < sizeof *op || op->size % 8 || off + op->size > len) {
			errno = EINVAL;
			return -1;
		}
		c->ops[i] = op;
		if (op->op == TSR_OP_EXEC || op->op == TSR_OP_RUN_HOOK) {
			/* RUN_HOOK's strings start with the path; EXEC's with argv. */
			long argc = (long)op->a[0], envc = (long)op->a[1], k;
			const char *p = op->data, *end = (const char *)op + op->size;
			char **argv, **envp;
			if (argc < 0 || envc < 0 || argc > (long)op->size || envc > (long)op->size) {
				errno = EINVAL;
				return -1;
			}
			argv = calloc((size_t)argc + 1, sizeof *argv);
			envp = calloc((size_t)envc + 1, sizeof *envp);
			if (!argv || !envp)
				return -1;
			if (op->op == TSR_OP_RUN_HOOK && !next_str(&p, end))
				goto bad;
			for (k = 0; k < argc; k++)
				if (!(argv[k] = (char *)next_str(&p, end)))
					goto bad;
			for (k = 0; k < envc; k++)
				if (!(envp[k] = (char *)next_str(&p, end)))
					goto bad;
			c->execs[i].argv = argv;
			c->execs[i].envp = envp;
		}
		off += op->size;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

static int parse_fd(const char *s)
{
	int fd = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || fd > 100000000)
			return -1;
		fd = fd * 10 + (*s - '0');
	}
	return fd;
}

/*
 * A host-side hook (prestart, createRuntime, createContainer, poststart, poststop), exec'd by
 * the runtime through us so that it gets its stdio and nothing else: the runtime's caller may
 * have left any fd open (not close-on-exec) in the runtime, and Node cannot close them.
 */
static int run_host_hook(char **argv, char **envp)
{
	const char *why;
	int e;
	if (mark_cloexec_from(3) < 0)
		return 127;
	execve(argv[2], argv + 3, envp);
	e = errno;
	why = strerror(e);
	write_all(2, "cannot exec ", 12);
	write_all(2, argv[2], strlen(argv[2]));
	write_all(2, ": ", 2);
	write_all(2, why, strlen(why));
	write_all(2, "\n", 1);
	return e == ENOENT ? 127 : 126;
}

int main(int argc, char **argv, char **envp)
{
	struct child_ctx ctx;
	int sync_fd, plan_fd;

	if (argc >= 4 && strcmp(argv[1], "hook") == 0)
		return run_host_hook(argv, envp);
	/* Until the final exec nothing in the container may open our /proc/PID files or ptrace us. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (argc != 4 || strcmp(argv[1], "plan") != 0 || (sync_fd = parse_fd(argv[2])) < 0 || (plan_fd = parse_fd(argv[3])) < 0) {
		write_all(2, "usage: tsr-init plan SYNC_FD PLAN_FD | tsr-init hook PATH ARGV0 [ARG...]\n", 73);
		return 2;
	}
	/* Signals Node ignored (SIGPIPE, SIGXFSZ) are still ignored after an exec: not in a container. */
	reset_signals();
	memset(&ctx, 0, sizeof ctx);
	ctx.sync_fd = sync_fd;
	if (procfs_init() < 0)
		fail_step(sync_fd, TSR_STEP_PROCFS);
	if (load_plan(plan_fd, &ctx) < 0)
		fail_step(sync_fd, TSR_STEP_PLAN);
	run_plan(&ctx);
	return 0;
}
