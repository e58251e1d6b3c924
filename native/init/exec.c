/* The exec itself: finding the program, the fds and signals it gets, and startContainer hooks. */
#include "init.h"

/* Close every fd from `from` on (close_range, or the /proc walk when a seccomp profile refuses it). */
int close_fds_from(int from)
{
	int dir;
	if (syscall(SYS_close_range, from, ~0U, 0) == 0)
		return 0;
	dir = proc_open("self/fd", O_RDONLY | O_DIRECTORY);
	if (dir < 0 || cloexec_walk(dir, from) < 0)
		return -1;
	/* Marked close-on-exec: the execve that follows closes them. */
	return 0;
}

/* FIND_EXEC: a0 candidate count; s: candidates: pick the first executable one (ENOENT, EACCES). */
int op_find_exec(struct init_state *s, const struct tsr_op *op)
{
	int n = (int)op->a[0], k, saw_eacces = 0;
	s->exec_path = NULL;
	for (k = 0; k < n; k++) {
		const char *cand = op_str(op, k);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0) {
				s->exec_path = cand;
				return 0;
			}
			saw_eacces = 1;
		} else if (errno == EACCES) {
			saw_eacces = 1;
		}
	}
	errno = saw_eacces ? EACCES : ENOENT;
	return -1;
}

/* EXEC: a0 argc, a1 envc, a2 fds to keep above stdio; s: argv..., envp... (FIND_EXEC found the path). */
int op_exec(struct init_state *s, const struct tsr_op *op)
{
	const struct exec_arrays *ex = &s->plan->execs[s->index];
	const char *path = s->exec_path;
	int keep = (int)op->a[2], fd;
	if (!path) {
		errno = ENOENT;
		return -1;
	}
	/* libuv marked stdio close-on-exec at Node start-up; the container must keep it. */
	for (fd = 0; fd < 3 + keep; fd++)
		fcntl(fd, F_SETFD, 0);
	/* Nothing else of the runtime's may cross into the container. */
	if (syscall(SYS_close_range, 3 + keep, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		int dir = proc_open("self/fd", O_RDONLY | O_DIRECTORY);
		if (dir < 0 || cloexec_walk(dir, 3 + keep) < 0)
			return -1;
	}
	unblock_all_signals();
	execve(path, ex->argv, ex->envp);
	return -1;
}

/*
 * A startContainer hook, run by the init after `start` and before the user process, inside the
 * container (runtime.md). The sync socket is closed by now: a failure is told on stderr and
 * ends the init, so the user process never runs.
 */
int op_run_hook(struct init_state *s, const struct tsr_op *op)
{
	const struct exec_arrays *ex = &s->plan->execs[s->index];
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
		/* The hook gets the state on stdin and our stdio, nothing else: not the fds the
		 * container is given (--preserve-fds), nor any of ours. */
		if (dup3(p[0], 0, 0) < 0 || close_fds_from(3) < 0)
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
		return 0;
fail:
	n = strlen(msg);
	strncpy(msg + n, path, 100);
	n = strlen(msg);
	memcpy(msg + n, " failed\n", 8);
	write_all(2, msg, n + 8);
	_exit(1);
}
