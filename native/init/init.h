/*
 * The container init's side of the shim: the op executor that runs a launch plan (plan.h) in
 * the cloned process, and the helpers it shares between its files.
 *
 * tsr-init is a static program of its own (main.c says why). util.c is also linked into the
 * shim, whose clone of Node runs it before exec'ing tsr-init: there only raw syscalls and thin
 * wrappers are safe (no malloc, no stdio, no setxid wrappers), so util.c keeps to those.
 */
#ifndef TSR_INIT_H
#define TSR_INIT_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/sched.h>
#include <net/if.h>

#include "../plan.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct exec_arrays {
	char **argv;
	char **envp;
};

/* The plan as tsr-init indexed it. */
struct child_ctx {
	const struct tsr_op **ops;
	uint32_t op_count;
	struct exec_arrays *execs; /* per op index, only for EXEC and RUN_HOOK */
	int sync_fd;
};

/* What the op loop carries from one op to the next. */
struct init_state {
	const struct child_ctx *plan;
	uint32_t index;        /* of the op running */
	int root_fd;           /* the root *_IN_ROOT ops resolve in (OPEN_ROOT), AT_FDCWD before */
	int cwd_fd;            /* OPEN_CWD's directory, for CHDIR */
	int sync_fd;           /* -1 after READY */
	const char *exec_path; /* FIND_EXEC's pick, for EXEC */
	int64_t exit_enoent, exit_eacces, exit_other; /* READY's exit codes for a later failure */
};

/* One op: 0, or -1 with errno. */
typedef int (*op_fn)(struct init_state *s, const struct tsr_op *op);

/* util.c */
const char *op_str(const struct tsr_op *op, int i);
int op_str_present(const struct tsr_op *op, int i);
size_t fmt_uint(char *out, unsigned long v);
int send_msg(int fd, int kind, int op, int err, int value);
int wait_byte(int fd);
void write_all(int fd, const char *p, size_t n);
ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd);
ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd);
int send_fd_msg(int sock, int kind, int op, int fd);
int cloexec_walk(int dir, int from);
int mark_cloexec_from(int from);
void reset_signals(void);
void unblock_all_signals(void);

/* in-root.c */
int open_in_root(int root_fd, const char *path, int flags);
int mkdirs_in_root(int root_fd, const char *path, mode_t mode);
int parent_in_root(int root_fd, const char *path, char *base_out, size_t base_size);
int open_parent_dir_in_root(int root_fd, const char *path, char *base, size_t base_size);
int op_mkdir_in_root(struct init_state *s, const struct tsr_op *op);
int op_mkfile_in_root(struct init_state *s, const struct tsr_op *op);
int op_symlink_in_root(struct init_state *s, const struct tsr_op *op);
int op_open_root(struct init_state *s, const struct tsr_op *op);
int op_open_cwd(struct init_state *s, const struct tsr_op *op);

/* mounts.c */
int op_mount(struct init_state *s, const struct tsr_op *op);
int op_mount_in_root(struct init_state *s, const struct tsr_op *op);
int op_mask_path(struct init_state *s, const struct tsr_op *op);
int op_readonly_path(struct init_state *s, const struct tsr_op *op);
int op_pivot_root(struct init_state *s, const struct tsr_op *op);
int op_move_root(struct init_state *s, const struct tsr_op *op);
int op_chroot(struct init_state *s, const struct tsr_op *op);
int op_mount_setattr(struct init_state *s, const struct tsr_op *op);
int op_move_mount_in_root(struct init_state *s, const struct tsr_op *op);
int op_bind_remount(struct init_state *s, const struct tsr_op *op);
int op_parent_mount_propagation(struct init_state *s, const struct tsr_op *op);
int op_device_in_root(struct init_state *s, const struct tsr_op *op);

/* process.c */
int op_setns(struct init_state *s, const struct tsr_op *op);
int op_unshare(struct init_state *s, const struct tsr_op *op);
int op_sethostname(struct init_state *s, const struct tsr_op *op);
int op_setdomainname(struct init_state *s, const struct tsr_op *op);
int op_setrlimit(struct init_state *s, const struct tsr_op *op);
int op_prctl(struct init_state *s, const struct tsr_op *op);
int op_cap_bounding(struct init_state *s, const struct tsr_op *op);
int op_setgroups(struct init_state *s, const struct tsr_op *op);
int op_setresgid(struct init_state *s, const struct tsr_op *op);
int op_setresuid(struct init_state *s, const struct tsr_op *op);
int op_capset(struct init_state *s, const struct tsr_op *op);
int op_ambient(struct init_state *s, const struct tsr_op *op);
int op_chdir(struct init_state *s, const struct tsr_op *op);
int op_umask(struct init_state *s, const struct tsr_op *op);
int op_setsid(struct init_state *s, const struct tsr_op *op);
int op_seccomp(struct init_state *s, const struct tsr_op *op);
int op_personality(struct init_state *s, const struct tsr_op *op);
int op_sched_setattr(struct init_state *s, const struct tsr_op *op);
int op_ioprio_set(struct init_state *s, const struct tsr_op *op);
int op_sched_affinity(struct init_state *s, const struct tsr_op *op);
int op_set_mempolicy(struct init_state *s, const struct tsr_op *op);
int op_loopback_up(struct init_state *s, const struct tsr_op *op);

/* exec.c */
int close_fds_from(int from);
int op_find_exec(struct init_state *s, const struct tsr_op *op);
int op_exec(struct init_state *s, const struct tsr_op *op);
int op_run_hook(struct init_state *s, const struct tsr_op *op);

/* channel.c */
int op_sync(struct init_state *s, const struct tsr_op *op);
int op_mark(struct init_state *s, const struct tsr_op *op);
int op_ready(struct init_state *s, const struct tsr_op *op);
int op_wait_fifo(struct init_state *s, const struct tsr_op *op);
int op_fork(struct init_state *s, const struct tsr_op *op);
int op_write_fd(struct init_state *s, const struct tsr_op *op);
int op_close(struct init_state *s, const struct tsr_op *op);
int op_setup_pty(struct init_state *s, const struct tsr_op *op);

/* procfs.c */
int procfs_init(void);
int proc_open(const char *rel, int flags);
int proc_write(const char *rel, const char *contents);
int reopen_fd(int fd, int flags);
int mount_fds(int src_fd, const char *src, int target_fd, const char *fstype, unsigned long flags, const void *data);
int devnull_for(int root_fd);
int on_procfs(int fd);
void procfs_filtered(void);
int procfs_narrow(void);
int op_write_proc(struct init_state *s, const struct tsr_op *op);

#endif
