/*
 * Starting a container process: clone Node, which at once becomes tsr-init (native/init/) and
 * runs the plan's ops, reporting the first failure as (op index, errno) so TypeScript can say
 * which step failed and why; and the runtime's end of the sync channel.
 *
 * Rules for the code that runs in the cloned child before that exec: the child shares the
 * memory of a multithreaded Node process (or, in a new user namespace, has a copy of it), so
 * between clone() and execve() it may use only raw syscalls and thin syscall wrappers: no
 * malloc, no stdio, no locale, no setxid wrappers (glibc broadcasts those to threads that are
 * not the child's). Everything it needs is prepared in the parent before clone(), and stays put
 * while the parent is suspended until the exec (CLONE_VFORK).
 */
#include "shim.h"
#include <sys/mman.h> /* MFD_* */
#include <sys/sendfile.h>

#define CHILD_STACK_SIZE (64 * 1024)

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* clone3's argument, spelled out here: <linux/sched.h> clashes with glibc's <sched.h>. */
struct tsr_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#define TSR_CLONE_INTO_CGROUP 0x200000000ULL

/*
 * tsr-init (native/init/main.c), copied once per runtime process into a memfd sealed against
 * any change: the container's processes start from this copy, so their /proc/self/exe is
 * something nothing can write, not a file of the host (runc does the same with its own binary).
 */
static int sealed_init(const char *path)
{
	static int sealed = -1;
	struct stat st;
	off_t off = 0;
	int src, fd, e;

	if (sealed >= 0)
		return sealed;
	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return -errno;
	fd = (int)syscall(SYS_memfd_create, "tsr-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL) /* kernels before 6.3 do not know MFD_EXEC */
		fd = (int)syscall(SYS_memfd_create, "tsr-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || fstat(src, &st) < 0)
		goto fail;
	while (off < st.st_size)
		if (sendfile(fd, src, &off, (size_t)(st.st_size - off)) <= 0)
			goto fail;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		goto fail;
	close(src);
	sealed = fd;
	return fd;
fail:
	e = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	close(src);
	return -e;
}

/* What the clone reads from our memory before it becomes tsr-init. */
struct spawn_ctx {
	int sync_fd, parent_sync_fd, init_fd, plan_fd, userns;
	const int32_t *keep;
	uint32_t keep_count;
	char *argv[5];
};

/*
 * The clone of Node: raw syscalls only (see init/init.h). It lets only stdio and the fds the
 * plan names cross the exec, and becomes tsr-init, which waits there for the runtime to place it
 * (cgroups, network devices). In a new user namespace it first waits here for its id maps and
 * becomes the namespace's root: an exec by a uid the namespace does not map as 0 would drop
 * every capability; tsr-init is then told the go byte has been read ("plan-released").
 */
static int spawn_child(void *arg)
{
	const struct spawn_ctx *c = arg;
	char *envp[] = { NULL };
	uint32_t k;
	int fd;

	reset_signals(); /* Node's handlers point into code that must never run here */
	close(c->parent_sync_fd);
	if (c->userns) {
		if (wait_byte(c->sync_fd) < 0)
			_exit(1); /* EOF: the runtime died */
		if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0) {
			send_msg(c->sync_fd, TSR_MSG_ERROR, TSR_STEP_NS_ROOT, errno, 0);
			_exit(1);
		}
	}
	if (mark_cloexec_from(3) < 0)
		goto fail;
	/* libuv marked 0..15 close-on-exec at Node's start-up: stdio must stay. */
	for (fd = 0; fd < 3; fd++)
		fcntl(fd, F_SETFD, 0);
	for (k = 0; k < c->keep_count; k++)
		fcntl(c->keep[k], F_SETFD, 0);
	fcntl(c->sync_fd, F_SETFD, 0);
	fcntl(c->plan_fd, F_SETFD, 0);
	syscall(SYS_execveat, c->init_fd, "", c->argv, envp, AT_EMPTY_PATH);
fail:
	send_msg(c->sync_fd, TSR_MSG_ERROR, TSR_STEP_START, errno, 0);
	_exit(1);
}

/*
 * clone3 into a cgroup (CLONE_INTO_CGROUP), the child running fn(arg): returns its pid, or -1
 * with errno. glibc has no clone3 wrapper, and a child that shares our memory must run on the
 * stack args gives it, never return through ours: on x86-64 that is done here; elsewhere the
 * clone is fork-like (no CLONE_VM), and the child runs on its copy of our stack.
 */
static int clone3_into_cgroup(struct tsr_clone_args *args, int (*fn)(void *), void *arg)
{
#ifdef __x86_64__
	long ret;
	register int (*r12)(void *) __asm__("r12") = fn;
	register void *r13 __asm__("r13") = arg;
	/* The child starts on the new stack with our registers: it calls fn and exits with its result. */
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "mov %%r13, %%rdi\n\t"
			 "call *%%r12\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov %[exit], %%eax\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:"
			 : "=a"(ret)
			 : "0"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(r12), "r"(r13), [exit] "i"(SYS_exit)
			 : "rcx", "r11", "memory");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (int)ret;
#else
	long pid;
	args->flags &= ~(uint64_t)(CLONE_VM | CLONE_VFORK);
	args->stack = 0;
	args->stack_size = 0;
	pid = syscall(SYS_clone3, args, sizeof *args);
	if (pid == 0)
		_exit(fn(arg));
	return (int)pid;
#endif
}

/*
 * Start a process running plan in tsr-init (init_path) and return its pid, or -errno.
 *
 * clone_flags: the namespaces it is born in. cgroup_fd >= 0: born in that cgroup v2 directory
 * (clone3 CLONE_INTO_CGROUP), which spares a migration: moving a process with cgroup.procs
 * waits for an RCU grace period (~15 ms here). keep: the fds the plan uses (besides stdio and
 * the sync socket); every other fd of ours is closed before tsr-init runs.
 */
int tsr_spawn(const char *init_path, const uint8_t *plan, uint32_t plan_len, uint64_t clone_flags, int child_sync_fd,
	      int parent_sync_fd, int cgroup_fd, const int32_t *keep, uint32_t keep_count)
{
	const struct tsr_plan_header *hdr = (const void *)plan;
	struct spawn_ctx ctx;
	char sync_arg[16], plan_arg[16];
	sigset_t all, old;
	char *stack = NULL;
	uint32_t off = 0;
	int pid, err, plan_fd = -1;

	if (plan_len < sizeof *hdr || hdr->magic != TSR_PLAN_MAGIC)
		return -EINVAL;
	memset(&ctx, 0, sizeof ctx);
	ctx.init_fd = sealed_init(init_path);
	if (ctx.init_fd < 0)
		return ctx.init_fd;
	/* The plan travels in a memfd: tsr-init reads it after the exec. */
	plan_fd = (int)syscall(SYS_memfd_create, "tsr-plan", MFD_CLOEXEC);
	if (plan_fd < 0)
		return -errno;
	while (off < plan_len) {
		ssize_t n = write(plan_fd, plan + off, plan_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = -errno;
			goto out;
		}
		off += (uint32_t)n;
	}
	ctx.sync_fd = child_sync_fd;
	ctx.parent_sync_fd = parent_sync_fd;
	ctx.plan_fd = plan_fd;
	ctx.userns = (clone_flags & CLONE_NEWUSER) != 0;
	ctx.keep = keep;
	ctx.keep_count = keep_count;
	fmt_uint(sync_arg, (unsigned long)child_sync_fd);
	fmt_uint(plan_arg, (unsigned long)plan_fd);
	ctx.argv[0] = "tsr-init";
	ctx.argv[1] = ctx.userns ? "plan-released" : "plan";
	ctx.argv[2] = sync_arg;
	ctx.argv[3] = plan_arg;
	ctx.argv[4] = NULL;

	stack = malloc(CHILD_STACK_SIZE);
	if (!stack) {
		err = -ENOMEM;
		goto out;
	}
	/* No signal may run a Node handler in the child: block them all across clone(). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/*
	 * The child shares our memory until its exec, as posix_spawn's does: no copy of Node's page
	 * tables, no release of that copy at the exec, and no fault on each page Node writes after
	 * (about 5 ms of a create here; tsr-init waits for the go byte instead). Not for a new user
	 * namespace: its child must wait before the exec for the id maps that make it root there (an
	 * exec by a uid the namespace does not map drops every capability), and a parent suspended
	 * until that exec could not write them.
	 */
	if (!ctx.userns)
		clone_flags |= CLONE_VM | CLONE_VFORK;
	if (cgroup_fd >= 0) {
		struct tsr_clone_args args;
		memset(&args, 0, sizeof args);
		args.flags = clone_flags | TSR_CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = (uint64_t)cgroup_fd;
		args.stack = (uint64_t)(uintptr_t)stack;
		args.stack_size = CHILD_STACK_SIZE;
		pid = clone3_into_cgroup(&args, spawn_child, &ctx);
	} else {
		pid = clone(spawn_child, stack + CHILD_STACK_SIZE, (int)(clone_flags | SIGCHLD), &ctx);
	}
	err = pid < 0 ? -errno : pid;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	free(stack);
	close(plan_fd);
	return err;
}

/*
 * Read one message from the init; returns 0, or -errno (-EPIPE on EOF: the init died).
 * *passed_fd is an fd sent along with it (SCM_RIGHTS, close-on-exec here), or -1.
 */
int tsr_read_msg(int fd, int32_t *kind, int32_t *op, int32_t *err, int32_t *value, int64_t *time_ns, int32_t *passed_fd)
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
	*value = m.value;
	*time_ns = m.time_ns;
	return 0;
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

/* waitpid of our own child: the raw status, -EAGAIN while it runs (WNOHANG), or -errno. */
static int wait_child(int pid, int flags)
{
	int status, rc;
	do
		rc = waitpid(pid, &status, __WALL | flags);
	while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return -EAGAIN;
	return rc < 0 ? -errno : status;
}

int tsr_wait(int pid)
{
	return wait_child(pid, 0);
}

int tsr_wait_nohang(int pid)
{
	return wait_child(pid, WNOHANG);
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

/* sched_setaffinity of another process (execCPUAffinity.initial, set by the parent). */
int tsr_sched_setaffinity(int pid, const uint8_t *mask, uint32_t len)
{
	return syscall(SYS_sched_setaffinity, pid, (size_t)len, mask) < 0 ? -errno : 0;
}
