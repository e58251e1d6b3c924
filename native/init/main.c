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

/* Each opcode's function (plan.h); a hole is an opcode tsr-init does not know (ENOSYS). */
static const op_fn OPS[TSR_OP_MAX] = {
	[TSR_OP_SETNS] = op_setns,
	[TSR_OP_UNSHARE] = op_unshare,
	[TSR_OP_MOUNT] = op_mount,
	[TSR_OP_MOUNT_IN_ROOT] = op_mount_in_root,
	[TSR_OP_MKDIR_IN_ROOT] = op_mkdir_in_root,
	[TSR_OP_MKFILE_IN_ROOT] = op_mkfile_in_root,
	[TSR_OP_SYMLINK_IN_ROOT] = op_symlink_in_root,
	[TSR_OP_OPEN_ROOT] = op_open_root,
	[TSR_OP_PIVOT_ROOT] = op_pivot_root,
	[TSR_OP_MOVE_ROOT] = op_move_root,
	[TSR_OP_SETHOSTNAME] = op_sethostname,
	[TSR_OP_SETDOMAINNAME] = op_setdomainname,
	[TSR_OP_WRITE_PROC] = op_write_proc,
	[TSR_OP_SETRLIMIT] = op_setrlimit,
	[TSR_OP_PRCTL] = op_prctl,
	[TSR_OP_CAP_BOUNDING] = op_cap_bounding,
	[TSR_OP_SETGROUPS] = op_setgroups,
	[TSR_OP_SETRESGID] = op_setresgid,
	[TSR_OP_SETRESUID] = op_setresuid,
	[TSR_OP_CAPSET] = op_capset,
	[TSR_OP_AMBIENT] = op_ambient,
	[TSR_OP_CHDIR] = op_chdir,
	[TSR_OP_UMASK] = op_umask,
	[TSR_OP_SYNC] = op_sync,
	[TSR_OP_READY] = op_ready,
	[TSR_OP_WAIT_FIFO] = op_wait_fifo,
	[TSR_OP_FIND_EXEC] = op_find_exec,
	[TSR_OP_EXEC] = op_exec,
	[TSR_OP_SECCOMP] = op_seccomp,
	[TSR_OP_SETSID] = op_setsid,
	[TSR_OP_MASK_PATH] = op_mask_path,
	[TSR_OP_READONLY_PATH] = op_readonly_path,
	[TSR_OP_CLOSE] = op_close,
	[TSR_OP_MOUNT_SETATTR] = op_mount_setattr,
	[TSR_OP_OPEN_CWD] = op_open_cwd,
	[TSR_OP_MARK] = op_mark,
	[TSR_OP_MOVE_MOUNT_IN_ROOT] = op_move_mount_in_root,
	[TSR_OP_PERSONALITY] = op_personality,
	[TSR_OP_SCHED_SETATTR] = op_sched_setattr,
	[TSR_OP_IOPRIO_SET] = op_ioprio_set,
	[TSR_OP_SCHED_AFFINITY] = op_sched_affinity,
	[TSR_OP_SET_MEMPOLICY] = op_set_mempolicy,
	[TSR_OP_PARENT_MOUNT_PROPAGATION] = op_parent_mount_propagation,
	[TSR_OP_BIND_REMOUNT] = op_bind_remount,
	[TSR_OP_LOOPBACK_UP] = op_loopback_up,
	[TSR_OP_DEVICE_IN_ROOT] = op_device_in_root,
	[TSR_OP_CHROOT] = op_chroot,
	[TSR_OP_FORK] = op_fork,
	[TSR_OP_SETUP_PTY] = op_setup_pty,
	[TSR_OP_WRITE_FD] = op_write_fd,
	[TSR_OP_RUN_HOOK] = op_run_hook,
};

/*
 * A failed op: before READY the runtime hears which one and why on the sync socket; after it
 * nobody listens, so the container's stderr and the exit code READY chose tell it.
 */
static void fail_op(const struct init_state *s, int e)
{
	if (s->sync_fd >= 0) {
		send_msg(s->sync_fd, TSR_MSG_ERROR, (int)s->index, e, 0);
	} else {
		char msg[96] = "tsruntime: container init: step ";
		size_t n = strlen(msg);
		n += fmt_uint(msg + n, s->index);
		memcpy(msg + n, " failed, errno ", 15);
		n += 15;
		n += fmt_uint(msg + n, (unsigned long)e);
		msg[n++] = '\n';
		write_all(2, msg, n);
	}
	_exit((int)(e == ENOENT ? s->exit_enoent : e == EACCES ? s->exit_eacces : s->exit_other));
}

static void run_plan(const struct child_ctx *c)
{
	struct init_state s;
	memset(&s, 0, sizeof s);
	s.plan = c;
	s.root_fd = AT_FDCWD;
	s.cwd_fd = -1;
	s.sync_fd = c->sync_fd;
	s.exit_enoent = s.exit_eacces = s.exit_other = 1;
	for (s.index = 0; s.index < c->op_count; s.index++) {
		const struct tsr_op *op = c->ops[s.index];
		op_fn fn = op->op < TSR_OP_MAX ? OPS[op->op] : NULL;
		if (!fn)
			errno = ENOSYS;
		if (!fn || fn(&s, op) < 0)
			fail_op(&s, errno);
	}
	_exit(0);
}

/* Before the first op: tell the runtime which step failed, and stop. */
static void fail_step(int sync_fd, int step)
{
	int e = errno;
	send_msg(sync_fd, TSR_MSG_ERROR, step, e, 0);
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
	if (argc != 4 || (strcmp(argv[1], "plan") != 0 && strcmp(argv[1], "plan-released") != 0) || (sync_fd = parse_fd(argv[2])) < 0 ||
	    (plan_fd = parse_fd(argv[3])) < 0) {
		write_all(2, "usage: tsr-init plan[-released] SYNC_FD PLAN_FD | tsr-init hook PATH ARGV0 [ARG...]\n", 84);
		return 2;
	}
	/* Signals Node ignored (SIGPIPE, SIGXFSZ) are still ignored after an exec: not in a container. */
	reset_signals();
	/* The runtime's go byte: it has placed us (cgroups, devices). In a new user namespace the
	 * clone read it before the exec, to be the namespace's root first (native/shim/spawn.c). */
	if (strcmp(argv[1], "plan") == 0 && wait_byte(sync_fd) < 0)
		return 1; /* EOF: the runtime died */
	memset(&ctx, 0, sizeof ctx);
	ctx.sync_fd = sync_fd;
	if (procfs_init() < 0)
		fail_step(sync_fd, TSR_STEP_PROCFS);
	if (load_plan(plan_fd, &ctx) < 0)
		fail_step(sync_fd, TSR_STEP_PLAN);
	run_plan(&ctx);
	return 0;
}
