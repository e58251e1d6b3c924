/*
 * Process ops: namespaces, names, limits, user and capabilities, cwd and session, seccomp, and
 * the config fields applied to the process (personality, scheduler, I/O priority, memory policy).
 */
#include "init.h"

int op_setns(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return setns((int)op->a[0], (int)op->a[1]);
}

int op_unshare(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return unshare((int)op->a[0]);
}

int op_sethostname(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return sethostname(op_str(op, 0), strlen(op_str(op, 0)));
}

int op_setdomainname(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return setdomainname(op_str(op, 0), strlen(op_str(op, 0)));
}

/* SETRLIMIT: a0 resource, a1 soft, a2 hard (-1 = infinity). */
int op_setrlimit(struct init_state *s, const struct tsr_op *op)
{
	struct {
		uint64_t cur, max;
	} lim = { (uint64_t)op->a[1], (uint64_t)op->a[2] };
	(void)s;
	return (int)syscall(SYS_prlimit64, 0, (int)op->a[0], &lim, NULL);
}

int op_prctl(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return prctl((int)op->a[0], (unsigned long)op->a[1], (unsigned long)op->a[2], (unsigned long)op->a[3], 0UL);
}

/* CAP_BOUNDING: a0 keep mask, a1 last cap: drop every cap 0..last not in the mask. */
int op_cap_bounding(struct init_state *s, const struct tsr_op *op)
{
	int cap;
	(void)s;
	for (cap = 0; cap <= (int)op->a[1]; cap++)
		if (!((uint64_t)op->a[0] & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return -1;
	return 0;
}

/* Raw syscalls: glibc's wrappers would broadcast to threads, a habit of the code this came from. */
int op_setgroups(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_setgroups, (size_t)op->a[0], (const gid_t *)op->data);
}

int op_setresgid(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_setresgid, (gid_t)op->a[0], (gid_t)op->a[0], (gid_t)op->a[0]);
}

int op_setresuid(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_setresuid, (uid_t)op->a[0], (uid_t)op->a[0], (uid_t)op->a[0]);
}

/* CAPSET: a0 effective, a1 permitted, a2 inheritable (64-bit masks). */
int op_capset(struct init_state *s, const struct tsr_op *op)
{
	uint64_t eff = (uint64_t)op->a[0], perm = (uint64_t)op->a[1], inh = (uint64_t)op->a[2];
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	(void)s;
	return (int)syscall(SYS_capset, &hdr, data);
}

/* AMBIENT: a0 mask of capabilities to raise. */
int op_ambient(struct init_state *s, const struct tsr_op *op)
{
	int cap;
	(void)s;
	for (cap = 0; cap < 64; cap++)
		if ((uint64_t)op->a[0] & (1ULL << cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
			return -1;
	return 0;
}

/*
 * Enter cwd (opened inside the root by OPEN_CWD, so no magic link such as /proc/self/fd/N and
 * no symlink out of it) and check it is reachable from the root: a cwd outside the root would
 * let the process walk to the host's / with ".." (the CVE-2024-21626 class). As runc, only
 * ENOENT or "(unreachable)" from getcwd fail: a seccomp filter may refuse getcwd itself.
 */
int op_chdir(struct init_state *s, const struct tsr_op *op)
{
	int cwd_fd = s->cwd_fd;
	static char buf[4096];
	long n;
	(void)op;
	if (fchdir(cwd_fd) < 0)
		return -1;
	n = syscall(SYS_getcwd, buf, sizeof buf);
	if ((n < 0 && errno == ENOENT) || (n > 0 && buf[0] != '/')) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

int op_umask(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	umask((mode_t)op->a[0]);
	return 0;
}

int op_setsid(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	(void)op;
	return setsid() < 0 ? -1 : 0;
}

/* SECCOMP: a0 instruction count, a1 flags; data: struct sock_filter[]. */
int op_seccomp(struct init_state *s, const struct tsr_op *op)
{
	struct sock_fprog prog = { (unsigned short)op->a[0], (struct sock_filter *)op->data };
	(void)s;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned int)op->a[1], &prog) < 0)
		return -1;
	procfs_filtered();
	return 0;
}

int op_personality(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return syscall(SYS_personality, (unsigned long)op->a[0]) < 0 ? -1 : 0;
}

/* SCHED_SETATTR: data: struct sched_attr (its size field set). */
int op_sched_setattr(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_sched_setattr, 0, op->data, 0);
}

int op_ioprio_set(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_ioprio_set, (int)op->a[0], (int)op->a[1], (int)op->a[2]);
}

/* SCHED_AFFINITY: a0 mask size in bytes; data: cpu mask. */
int op_sched_affinity(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_sched_setaffinity, 0, (size_t)op->a[0], op->data);
}

/* SET_MEMPOLICY: a0 mode|flags, a1 maxnode (0: no mask); data: unsigned long nodemask[]. */
int op_set_mempolicy(struct init_state *s, const struct tsr_op *op)
{
	(void)s;
	return (int)syscall(SYS_set_mempolicy, (int)op->a[0], op->a[1] ? (const unsigned long *)op->data : NULL,
			    (unsigned long)op->a[1]);
}

/* TSR_OP_LOOPBACK_UP: a new network namespace starts with "lo" down. */
int op_loopback_up(struct init_state *st, const struct tsr_op *op)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc, e;
	(void)st;
	(void)op;
	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	memcpy(ifr.ifr_name, "lo", 3);
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	e = errno;
	close(s);
	errno = e;
	return rc;
}
