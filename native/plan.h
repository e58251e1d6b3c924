/*
 * The launch plan: a flat byte buffer that TypeScript (src/plan/ops.ts, encodePlan) builds and the
 * container init (tsr-init, native/init/) executes op by op. Each op is a fixed header followed by a
 * payload of NUL-terminated strings (or raw bytes); records are 8-byte aligned.
 *
 * Keep this file and src/plan/ops.ts in step: the numbers are the wire format.
 */
#ifndef TSR_PLAN_H
#define TSR_PLAN_H
#include <stdint.h>

#define TSR_PLAN_MAGIC 0x54535231u /* "TSR1" */

struct tsr_plan_header {
	uint32_t magic;
	uint32_t op_count;
};

struct tsr_op {
	uint32_t op;    /* enum tsr_opcode */
	uint32_t size;  /* whole record, header included, multiple of 8 */
	int64_t a[4];   /* integer arguments, meaning per op */
	char data[];    /* strings or bytes, meaning per op */
};

enum tsr_opcode {
	TSR_OP_SETNS = 1,          /* a0 fd, a1 nstype */
	TSR_OP_UNSHARE = 2,        /* a0 flags */
	TSR_OP_MOUNT = 3,          /* a0 flags, a1 bitmask of present strings; s: source target fstype data (target is a plain path) */
	TSR_OP_MOUNT_IN_ROOT = 4,  /* as MOUNT, target resolved inside the open root without leaving it;
	                            * a2 1: refuse (EXDEV) a target that resolves onto a procfs */
	TSR_OP_MKDIR_IN_ROOT = 5,  /* a0 mode; s: path */
	TSR_OP_MKFILE_IN_ROOT = 6, /* a0 mode; s: path (parents created 0755) */
	TSR_OP_SYMLINK_IN_ROOT = 8,/* s: target linkpath */
	TSR_OP_OPEN_ROOT = 9,      /* s: path; the root later *_IN_ROOT ops resolve in */
	TSR_OP_PIVOT_ROOT = 10,    /* uses the open root */
	TSR_OP_MOVE_ROOT = 11,     /* uses the open root: MS_MOVE it onto / and chroot (no pivot_root) */
	TSR_OP_SETHOSTNAME = 12,   /* s: name */
	TSR_OP_SETDOMAINNAME = 13, /* s: name */
	TSR_OP_WRITE_PROC = 14,    /* s: path under /proc ("self/oom_score_adj", "sys/..."), contents: written through
	                            * the /proc tsr-init verified at start, crossing no mount, no create */
	TSR_OP_SETRLIMIT = 15,     /* a0 resource, a1 soft, a2 hard (-1 = infinity) */
	TSR_OP_PRCTL = 16,         /* a0 option, a1..a3 args */
	TSR_OP_CAP_BOUNDING = 17,  /* a0 keep mask, a1 last cap: drop every cap 0..last not in mask */
	TSR_OP_SETGROUPS = 18,     /* a0 count; data: uint32 gids */
	TSR_OP_SETRESGID = 19,     /* a0 gid */
	TSR_OP_SETRESUID = 20,     /* a0 uid */
	TSR_OP_CAPSET = 21,        /* a0 effective, a1 permitted, a2 inheritable (64-bit masks) */
	TSR_OP_AMBIENT = 22,       /* a0 mask of caps to raise */
	TSR_OP_CHDIR = 23,         /* fchdir to the directory OPEN_CWD opened; EXDEV if it is not reachable from the root */
	TSR_OP_UMASK = 24,         /* a0 mask */
	TSR_OP_SYNC = 25,          /* tell the parent we reached this op, wait for its byte */
	TSR_OP_READY = 26,         /* tell the parent setup is done (a0 1: then wait for its byte); close the sync socket.
	                            * a1, a2, a3: the exit code when a later op fails with ENOENT, EACCES, else */
	TSR_OP_WAIT_FIFO = 27,     /* a0 O_PATH fd of the exec fifo: reopen it for writing (blocks until start) */
	TSR_OP_FIND_EXEC = 28,     /* a0 candidate count; s: candidates: pick the first executable one */
	TSR_OP_EXEC = 29,          /* a0 argc, a1 envc, a2 fds to keep above stdio; s: argv..., envp... */
	TSR_OP_SECCOMP = 30,       /* a0 instruction count, a1 flags; data: struct sock_filter[] */
	TSR_OP_SETSID = 31,
	TSR_OP_MASK_PATH = 32,     /* s: path: the verified /dev/null over a file, read-only tmpfs over a dir; missing is fine */
	TSR_OP_READONLY_PATH = 33, /* s: path: bind it onto itself, read-only with its submounts; missing is fine */
	TSR_OP_CLOSE = 34,         /* a0 fd */
	TSR_OP_MOUNT_SETATTR = 36, /* a0 attr_set, a1 attr_clr, a2 propagation, a3 flags (AT_RECURSIVE); s: path in root */
	TSR_OP_OPEN_CWD = 37,      /* s: path: open it as a directory inside the open root (no magic link), for CHDIR */
	TSR_OP_MARK = 38,          /* send the time now (TSR_MSG_MARK): the plan has these only for --debug's trace */
	TSR_OP_MOVE_MOUNT_IN_ROOT = 39, /* a0 fd of a detached mount (open_tree), a2 1: refuse (EXDEV) a target on a
	                            * procfs; s: path in root: move the mount there, then close a0 */
	/* 40-59: config fields (see the planner; implemented in init/process.c and init/mounts.c); 60+: exec and terminals. */
	TSR_OP_PERSONALITY = 40,   /* a0 persona */
	TSR_OP_SCHED_SETATTR = 41, /* data: struct sched_attr (its size field set) */
	TSR_OP_IOPRIO_SET = 42,    /* a0 which, a1 who, a2 ioprio */
	TSR_OP_SCHED_AFFINITY = 43,/* a0 mask size in bytes; data: cpu mask */
	TSR_OP_SET_MEMPOLICY = 44, /* a0 mode|flags, a1 maxnode (0: no mask); data: unsigned long nodemask[] */
	TSR_OP_PARENT_MOUNT_PROPAGATION = 45, /* a0 propagation; s: host path: set it on the mount holding path */
	TSR_OP_BIND_REMOUNT = 46,  /* a0 flags, a1 flags the user cleared; s: path in root: keep locked flags on EPERM */
	TSR_OP_LOOPBACK_UP = 47,   /* bring "lo" up in the (new) network namespace */
	TSR_OP_DEVICE_IN_ROOT = 48,/* as MKNOD_IN_ROOT, but an existing file must match type and rdev (else EEXIST) */
	TSR_OP_CHROOT = 49,        /* chroot into the open root (no mount namespace: no pivot_root, no MS_MOVE) */
	TSR_OP_FORK = 60,          /* a0 clone flags: the caller reports the child's pid (TSR_MSG_PID) and exits */
	TSR_OP_SETUP_PTY = 61,     /* a0 1 = also bind the slave on /dev/console: new pty from /dev/ptmx, slave
	                            * becomes the controlling terminal and stdio, master goes to the parent */
	TSR_OP_WRITE_FD = 62,      /* a0 fd; s: data: write it to the fd, then close the fd */
	TSR_OP_RUN_HOOK = 63,      /* a0 argc, a1 envc; s: path, argv..., envp..., state before the pid, state after
	                            * it: run a startContainer hook here, the state (with our pid) on its stdin */
	TSR_OP_MAX
};

/* Messages the init sends on the sync socket (one fixed-size record each). */
struct tsr_msg {
	int32_t kind;    /* TSR_MSG_* */
	int32_t op;      /* index of the op that failed, synced or marked */
	int32_t err;     /* errno (TSR_MSG_ERROR) */
	int32_t value;   /* the forked pid (TSR_MSG_PID) */
	int64_t time_ns; /* CLOCK_MONOTONIC when the op ran (TSR_MSG_MARK) */
};
enum { TSR_MSG_READY = 1, TSR_MSG_ERROR = 2, TSR_MSG_SYNC = 3, TSR_MSG_PID = 4, TSR_MSG_FD = 5, TSR_MSG_MARK = 6 };

/* A TSR_MSG_ERROR's op before the first op ran: which start-up step failed. */
enum {
	TSR_STEP_START = -1,   /* the runtime's clone could not exec tsr-init */
	TSR_STEP_NS_ROOT = -2, /* becoming root (0:0) in the new user namespace */
	TSR_STEP_PLAN = -3,    /* reading the plan */
	TSR_STEP_PROCFS = -4,  /* /proc is missing or not a procfs */
};

#endif
