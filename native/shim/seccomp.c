/*
 * linux.seccomp compiled to BPF with libseccomp, in Node's process (libc and libseccomp are fine
 * here); the SECCOMP op loads the program in the container (native/init/).
 */
#include "shim.h"
#include <dlfcn.h>
#include <seccomp.h>
#include <sys/mman.h>

/*
 * libseccomp is loaded when a profile is first compiled (dlopen), not linked: the shim then
 * loads, and every container without seccomp runs, on a host without libseccomp.so.2, and a
 * build that forgets the library cannot break the shim.
 */
static struct {
	void *handle;
	scmp_filter_ctx (*init)(uint32_t);
	void (*release)(scmp_filter_ctx);
	int (*attr_set)(scmp_filter_ctx, enum scmp_filter_attr, uint32_t);
	uint32_t (*arch_resolve_name)(const char *);
	int (*arch_add)(scmp_filter_ctx, uint32_t);
	int (*syscall_resolve_name)(const char *);
	int (*rule_add_array)(scmp_filter_ctx, uint32_t, int, unsigned int, const struct scmp_arg_cmp *);
	int (*export_bpf)(const scmp_filter_ctx, int);
	int (*syscall_resolve_name_arch)(uint32_t, const char *);
	uint32_t (*arch_native)(void);
} lsc;

static int load_libseccomp(void)
{
	void *h;
	if (lsc.handle)
		return 0;
	h = dlopen("libseccomp.so.2", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -ENOENT;
#define TSR_SYM(field, name)                      \
	if (!(*(void **)&lsc.field = dlsym(h, name))) { \
		dlclose(h);                               \
		return -ENOSYS;                           \
	}
	TSR_SYM(init, "seccomp_init")
	TSR_SYM(release, "seccomp_release")
	TSR_SYM(attr_set, "seccomp_attr_set")
	TSR_SYM(arch_resolve_name, "seccomp_arch_resolve_name")
	TSR_SYM(arch_add, "seccomp_arch_add")
	TSR_SYM(syscall_resolve_name, "seccomp_syscall_resolve_name")
	TSR_SYM(rule_add_array, "seccomp_rule_add_array")
	TSR_SYM(export_bpf, "seccomp_export_bpf")
	TSR_SYM(syscall_resolve_name_arch, "seccomp_syscall_resolve_name_arch")
	TSR_SYM(arch_native, "seccomp_arch_native")
#undef TSR_SYM
	lsc.handle = h;
	return 0;
}

/*
 * runc's "ENOSYS patch" (libcontainer/seccomp/patchbpf), in spirit: a syscall newer than every
 * syscall the profile names, for an architecture the profile covers, gets ENOSYS instead of the
 * profile's default action. A profile that predates clone3 or faccessat2 then makes glibc fall
 * back to clone/faccessat instead of failing with EPERM. Built as a BPF prefix that runs before
 * libseccomp's program (whose jumps are relative, so it is unaffected).
 */
#define TSR_X32_BIT 0x40000000u
#ifndef AUDIT_ARCH_X86_64
#define AUDIT_ARCH_X86_64 0xC000003Eu
#endif

struct tsr_arch_max {
	uint32_t token; /* libseccomp arch token (= AUDIT_ARCH_* except for x32) */
	int max;        /* highest syscall number the profile names for it, or -1 */
};

static int enosys_prefix(const struct tsr_arch_max *arches, int n, struct sock_filter *out, int cap)
{
	int len = 0, i, x32 = -1, x86_64 = -1, enosys_at, filter_at;
	struct {
		int at;     /* index of a jump to patch */
		int target; /* 0: the ENOSYS return, 1: the libseccomp program, 2+k: group k */
		int which;  /* 0 jt, 1 jf, 2 k (ja) */
	} fix[64];
	int nfix = 0, group_at[16], ngroups = 0;
	uint32_t group_arch[16];

	for (i = 0; i < n; i++) {
		if (arches[i].token == SCMP_ARCH_X32)
			x32 = i;
		else if (arches[i].token == AUDIT_ARCH_X86_64)
			x86_64 = i;
	}
	if (cap < 40)
		return -E2BIG;
#define EMIT(code, k, jt, jf) (out[len] = (struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)), len++)
#define FIX(tg, wh) (fix[nfix].at = len - 1, fix[nfix].target = (tg), fix[nfix].which = (wh), nfix++)
	EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
	for (i = 0; i < n && ngroups < 16; i++) {
		uint32_t audit = arches[i].token == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : arches[i].token;
		int g, seen = 0;
		for (g = 0; g < ngroups; g++)
			seen |= group_arch[g] == audit;
		if (seen)
			continue;
		group_arch[ngroups++] = audit;
	}
	for (i = 0; i < ngroups; i++) {
		uint32_t audit = group_arch[i];
		group_at[i] = len;
		EMIT(BPF_JMP | BPF_JEQ | BPF_K, audit, 0, 0);
		FIX(2 + i + 1, 1); /* not this arch: next group (or, after the last, the filter) */
		EMIT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
		if (audit == AUDIT_ARCH_X86_64 && x32 >= 0) {
			/* x32 calls come with AUDIT_ARCH_X86_64 and the x32 bit in the number. */
			EMIT(BPF_JMP | BPF_JSET | BPF_K, TSR_X32_BIT, 0, 0);
			if (arches[x32].max >= 0) {
				EMIT(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)arches[x32].max, 0, 0);
				FIX(0, 0);
				FIX(1, 1);
				out[len - 2].jt = 0; /* JSET true: fall into the x32 compare */
				out[len - 2].jf = 1; /* false: skip it */
			} else {
				EMIT(BPF_JMP | BPF_JA, 0, 0, 0);
				FIX(1, 2);
				out[len - 2].jt = 0;
				out[len - 2].jf = 1;
			}
		}
		{
			int k, max = -1;
			for (k = 0; k < n; k++)
				if (arches[k].token == audit || (audit == AUDIT_ARCH_X86_64 && k == x86_64))
					max = arches[k].max > max ? arches[k].max : max;
			if (audit == AUDIT_ARCH_X86_64 && x86_64 < 0)
				max = -1; /* only x32 covered: plain x86_64 calls go to the filter */
			if (max >= 0) {
				EMIT(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)max, 0, 0);
				FIX(0, 0);
				FIX(1, 1);
			} else {
				EMIT(BPF_JMP | BPF_JA, 0, 0, 0);
				FIX(1, 2);
			}
		}
		if (len > cap - 4)
			return -E2BIG;
	}
	/* After the last group: an unknown arch, straight to the filter. */
	EMIT(BPF_JMP | BPF_JA, 0, 0, 0);
	FIX(1, 2);
	enosys_at = len;
	EMIT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA), 0, 0);
	filter_at = len;
	for (i = 0; i < nfix; i++) {
		int target = fix[i].target == 0 ? enosys_at : fix[i].target == 1 ? filter_at
			   : fix[i].target - 2 < ngroups ? group_at[fix[i].target - 2] : enosys_at - 1;
		int off = target - fix[i].at - 1;
		if (off < 0 || (fix[i].which < 2 && off > 255))
			return -E2BIG;
		if (fix[i].which == 0)
			out[fix[i].at].jt = (unsigned char)off;
		else if (fix[i].which == 1)
			out[fix[i].at].jf = (unsigned char)off;
		else
			out[fix[i].at].k = (uint32_t)off;
	}
#undef EMIT
#undef FIX
	return len;
}

/*
 * Build a seccomp filter with libseccomp from the rule list src/plan/seccomp-plan.ts
 * serializes, one directive per line:
 *   default ACTION
 *   arch NAME                       (libseccomp's name: x86_64, x86, x32, aarch64, ...)
 *   rule ACTION SYSCALL N [INDEX OP VALUE VALUE2]...   (N conditions, ANDed)
 * ACTION is the numeric SCMP_ACT_* value (errno/trace data included). Syscalls this libseccomp
 * does not know are skipped, as runc does. The BPF program goes into out (struct sock_filter[]);
 * returns its size in bytes, or -errno (-E2BIG when cap is too small). On a bad line, *bad_line
 * gets its 1-based number.
 */
int tsr_seccomp_compile(const char *rules, uint8_t *out, uint32_t cap, int32_t *bad_line)
{
	char *copy = strdup(rules), *save = NULL, *line;
	scmp_filter_ctx ctx = NULL;
	int rc = 0, lineno = 0, memfd = -1, narch = 0, patch = 0, plen = 0;
	struct tsr_arch_max arches[16];
	struct sock_filter prefix[128];
	off_t size;

	*bad_line = 0;
	if (!copy)
		return -ENOMEM;
	rc = load_libseccomp();
	if (rc < 0) {
		free(copy);
		return rc;
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok, *s2 = NULL;
		lineno++;
		tok = strtok_r(line, " ", &s2);
		if (!tok)
			continue;
		if (!strcmp(tok, "default")) {
			char *a = strtok_r(NULL, " ", &s2);
			if (ctx || !a) {
				rc = -EINVAL;
				break;
			}
			{
				uint32_t def = (uint32_t)strtoul(a, NULL, 0);
				ctx = lsc.init(def);
				/* An allowing default needs no ENOSYS for unknown syscalls. */
				patch = def != SCMP_ACT_ALLOW && def != SCMP_ACT_LOG;
			}
			if (!ctx) {
				rc = -EINVAL;
				break;
			}
			arches[0].token = lsc.arch_native();
			arches[0].max = -1;
			narch = 1;
			/* We only export the program: the child loads it with its own flags. */
			lsc.attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
		} else if (!strcmp(tok, "arch")) {
			char *name = strtok_r(NULL, " ", &s2);
			uint32_t arch = name ? lsc.arch_resolve_name(name) : 0;
			if (!ctx) {
				rc = -EINVAL;
				break;
			}
			if (arch == 0)
				continue; /* an architecture this libseccomp does not know cannot run here anyway */
			rc = lsc.arch_add(ctx, arch);
			if (rc == -EEXIST)
				rc = 0;
			if (rc < 0)
				break;
			{
				int k, seen = 0;
				for (k = 0; k < narch; k++)
					seen |= arches[k].token == arch;
				if (!seen && narch < 16) {
					arches[narch].token = arch;
					arches[narch].max = -1;
					narch++;
				}
			}
		} else if (!strcmp(tok, "rule")) {
			char *act = strtok_r(NULL, " ", &s2), *name = strtok_r(NULL, " ", &s2), *n = strtok_r(NULL, " ", &s2);
			struct scmp_arg_cmp conds[6];
			unsigned count, k;
			int nr;
			if (!ctx || !act || !name || !n || (count = (unsigned)strtoul(n, NULL, 10)) > 6) {
				rc = -EINVAL;
				break;
			}
			for (k = 0; k < count; k++) {
				char *idx = strtok_r(NULL, " ", &s2), *opc = strtok_r(NULL, " ", &s2);
				char *v1 = strtok_r(NULL, " ", &s2), *v2 = strtok_r(NULL, " ", &s2);
				if (!idx || !opc || !v1 || !v2) {
					rc = -EINVAL;
					break;
				}
				conds[k].arg = (unsigned)strtoul(idx, NULL, 10);
				conds[k].op = (enum scmp_compare)strtoul(opc, NULL, 10);
				conds[k].datum_a = strtoull(v1, NULL, 0);
				conds[k].datum_b = strtoull(v2, NULL, 0);
			}
			if (rc < 0)
				break;
			nr = lsc.syscall_resolve_name(name);
			if (nr == __NR_SCMP_ERROR)
				continue; /* unknown to this libseccomp: skipped, as runc does */
			rc = lsc.rule_add_array(ctx, (uint32_t)strtoul(act, NULL, 0), nr, count, conds);
			if (rc < 0)
				break;
			{
				int k;
				for (k = 0; k < narch; k++) {
					int anr = lsc.syscall_resolve_name_arch(arches[k].token, name);
					if (anr >= 0 && anr > arches[k].max)
						arches[k].max = anr;
				}
			}
		} else {
			rc = -EINVAL;
			break;
		}
	}
	if (rc == 0 && !ctx)
		rc = -EINVAL;
	if (rc < 0) {
		*bad_line = lineno;
		goto out;
	}
	memfd = (int)syscall(SYS_memfd_create, "tsr-seccomp", MFD_CLOEXEC);
	if (memfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = lsc.export_bpf(ctx, memfd);
	if (rc < 0)
		goto out;
	size = lseek(memfd, 0, SEEK_END);
	if (size < 0) {
		rc = -errno;
		goto out;
	}
	if (patch) {
		plen = enosys_prefix(arches, narch, prefix, (int)(sizeof prefix / sizeof prefix[0]));
		if (plen < 0) {
			rc = plen;
			goto out;
		}
	}
	if ((uint64_t)size + (uint64_t)plen * sizeof(struct sock_filter) > cap) {
		rc = -E2BIG;
		goto out;
	}
	memcpy(out, prefix, (size_t)plen * sizeof(struct sock_filter));
	if (pread(memfd, out + (size_t)plen * sizeof(struct sock_filter), (size_t)size, 0) != size) {
		rc = -EIO;
		goto out;
	}
	rc = (int)size + plen * (int)sizeof(struct sock_filter);
out:
	if (memfd >= 0)
		close(memfd);
	if (ctx)
		lsc.release(ctx);
	free(copy);
	return rc;
}
