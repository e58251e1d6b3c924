/*
 * The container init's side of the shim: the op executor that runs a launch plan (plan.h) in
 * the cloned process, and the helpers it shares between its files.
 *
 * Rules for this code (see NOTES in native/shim.c): it runs in a copy of a multithreaded Node
 * process, so between clone() and execve() it may use only raw syscalls and thin syscall
 * wrappers: no malloc, no stdio, no locale, no setxid wrappers.
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

/* Everything the child reads, built by the parent. */
struct child_ctx {
	const struct tsr_op **ops;
	uint32_t op_count;
	struct exec_arrays *execs; /* per op index, only for TSR_OP_EXEC */
	int sync_fd;               /* the child's end */
	int parent_sync_fd;        /* the parent's end: closed first thing in the child */
};

/* util.c */
const char *op_str(const struct tsr_op *op, int i);
int op_str_present(const struct tsr_op *op, int i);
size_t fmt_uint(char *out, unsigned long v);
const char *fd_path(char *buf, int fd);
int send_msg(int fd, int kind, int op, int err);
int wait_byte(int fd);
void write_all(int fd, const char *p, size_t n);
ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd);
ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd);
int send_fd_msg(int sock, int kind, int op, int fd);

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
int do_write_file(const char *path, const char *contents);
int do_capset(uint64_t eff, uint64_t perm, uint64_t inh);
void reset_signals(void);
void unblock_all_signals(void);
int cloexec_from(int from);
int do_exec(const struct tsr_op *op, const struct exec_arrays *ex, const char *path);
void do_run_hook(const struct tsr_op *op, const struct exec_arrays *ex);
int do_setup_pty(int sync_fd, int op_index, int bind_console);
int do_loopback_up(void);
int tsr_config_op(const struct tsr_op *op, int root_fd);

/* main.c */
int child_main(void *arg);

#endif
