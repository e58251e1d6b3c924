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

/* util.c */
const char *op_str(const struct tsr_op *op, int i);
int op_str_present(const struct tsr_op *op, int i);
size_t fmt_uint(char *out, unsigned long v);
int send_msg(int fd, int kind, int op, int err);
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

/* mounts.c */
int do_mount(const struct tsr_op *op, int root_fd, int in_root);
int do_mask_path(int root_fd, const char *path);
int do_readonly_path(int root_fd, const char *path);
int do_pivot_root(int root_fd);
int do_move_root(int root_fd);
int do_bind_remount(const struct tsr_op *op, int root_fd);
int do_parent_mount_propagation(const struct tsr_op *op);
int do_device_in_root(const struct tsr_op *op, int root_fd);

/* process.c */
int do_capset(uint64_t eff, uint64_t perm, uint64_t inh);
int close_fds_from(int from);
int do_chdir_checked(int cwd_fd);
int do_exec(const struct tsr_op *op, const struct exec_arrays *ex, const char *path);
void do_run_hook(const struct tsr_op *op, const struct exec_arrays *ex);
int do_setup_pty(int root_fd, int sync_fd, int op_index, int bind_console);
int do_loopback_up(void);
int tsr_config_op(const struct tsr_op *op, int root_fd);

/* procfs.c */
int procfs_init(void);
int proc_open(const char *rel, int flags);
int proc_write(const char *rel, const char *contents);
int reopen_fd(int fd, int flags);
int mount_fds(int src_fd, const char *src, int target_fd, const char *fstype, unsigned long flags, const void *data);
int devnull_for(int root_fd);
int on_procfs(int fd);
void procfs_filtered(void);

#endif
