/*
 * tsr-reaper CMD [ARGS...]: run CMD as a child subreaper and reap every orphan under it.
 *
 * A container init outlives the `create` that cloned it and is reparented to the nearest
 * subreaper, or to PID 1. Some hosts' PID 1 (this project's CI VM among them) never reaps, so
 * inits that exit stay zombies forever. Tests and the benchmark run under this helper, the way
 * containerd-shim and conmon act as subreapers for real containers.
 * Exits with CMD's exit code (128+signal if it was killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child;
static volatile sig_atomic_t timed_out;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	int status, code = 1;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: tsr-reaper CMD [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("tsr-reaper: prctl(PR_SET_CHILD_SUBREAPER)");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("tsr-reaper: fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "tsr-reaper: %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	signal(SIGINT, forward);
	signal(SIGTERM, forward);
	signal(SIGHUP, forward);
	{
		/* No SA_RESTART: the alarm must interrupt waitpid. */
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
	}
	for (;;) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR && !timed_out)
				continue;
			if (timed_out)
				fprintf(stderr, "tsr-reaper: processes still running 10s after %s exited: "
					"something leaked a container\n", argv[1]);
			break; /* ECHILD: everything under us is reaped */
		}
		if (pid == child) {
			code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			alarm(10); /* orphans still running get 10 s to finish, then we stop waiting */
		}
	}
	return code;
}
