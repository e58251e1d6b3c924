/*
 * tsr-probe: run inside a container, print what the container looks like from the inside as
 * one JSON object on stdout, in the spirit of runtime-tools' runtimetest but reporting facts
 * rather than judging them: the tests (the conformance suite, test/integration/config-NAME.test.ts)
 * compare the facts with the config they gave the runtime.
 *
 * Built static (scripts/build.js) so it runs in a busybox rootfs without a libc. No NSS, no
 * locale: only syscalls and /proc.
 *
 * usage: tsr-probe [--sysctl KEY]... [--stat PATH]... [--lstat PATH]... [--read PATH]...
 *                  [--write PATH]... [--sleep SECONDS] [--exit CODE]
 *   --sysctl net.ipv4.ip_forward   value of /proc/sys/net/ipv4/ip_forward (null when unreadable)
 *   --stat / --lstat PATH          type, permission bits, owner, device numbers (or the errno name)
 *   --read PATH                    contents of a file (or the errno name)
 *   --write PATH                   can we write there? a directory: create and remove a file in it;
 *                                  a file: open it for writing. "ok" or the errno name
 *   --sleep N                      after printing, sleep N seconds (for tests that look from outside)
 *   --exit N                       exit with N after printing (default 0)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------- output: a growing buffer, written once at the end ---------- */

static char *out;
static size_t out_len, out_cap;

static void put(const char *s, size_t n)
{
	if (out_len + n + 1 > out_cap) {
		out_cap = (out_len + n + 1) * 2;
		out = realloc(out, out_cap);
		if (!out)
			_exit(99);
	}
	memcpy(out + out_len, s, n);
	out_len += n;
	out[out_len] = 0;
}

static void puts_raw(const char *s)
{
	put(s, strlen(s));
}

static void putf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void put_str_n(const char *s, size_t n)
{
	size_t i;
	put("\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(e, 2);
		} else if (c == '\n') {
			put("\\n", 2);
		} else if (c == '\t') {
			put("\\t", 2);
		} else if (c < 0x20 || c >= 0x7f) {
			putf("\\u%04x", c);
		} else {
			put((const char *)&c, 1);
		}
	}
	put("\"", 1);
}

static void put_str(const char *s)
{
	put_str_n(s, strlen(s));
}

static void key(const char *k, int *first)
{
	if (!*first)
		put(",", 1);
	*first = 0;
	put_str(k);
	put(":", 1);
}

static const char *errname(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EROFS: return "EROFS";
	case EINVAL: return "EINVAL";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case ELOOP: return "ELOOP";
	case EEXIST: return "EEXIST";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case ENOSYS: return "ENOSYS";
	case EXDEV: return "EXDEV";
	default: {
		static char buf[32];
		snprintf(buf, sizeof buf, "errno %d", e);
		return buf;
	}
	}
}

/* Whole file into a malloc'd NUL-terminated buffer; NULL with errno set. */
static char *slurp(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, len = 0;
	char *buf;
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int e = errno;
			close(fd);
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	if (len_out)
		*len_out = len;
	return buf;
}

/* The value after "Name:\t" in /proc/self/status, or NULL. */
static const char *status_field(const char *status, const char *name, char *out_buf, size_t size)
{
	size_t nl = strlen(name);
	const char *p = status;
	while (p && *p) {
		if (!strncmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *end;
			size_t n;
			while (*v == ' ' || *v == '\t')
				v++;
			end = strchr(v, '\n');
			n = end ? (size_t)(end - v) : strlen(v);
			if (n >= size)
				n = size - 1;
			memcpy(out_buf, v, n);
			out_buf[n] = 0;
			return out_buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* "1 2 3 4" → JSON array of numbers */
static void put_num_list(const char *s)
{
	int first = 1;
	put("[", 1);
	while (s && *s) {
		char *end;
		unsigned long v;
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		v = strtoul(s, &end, 10);
		if (end == s)
			break;
		if (!first)
			put(",", 1);
		first = 0;
		putf("%lu", v);
		s = end;
	}
	put("]", 1);
}

/* ---------- sections ---------- */

static void section_ids(int *first)
{
	char *status = slurp("/proc/self/status", NULL);
	char v[256];
	gid_t groups[1024];
	int n, i, f2;

	key("pid", first);
	putf("%d", (int)getpid());
	key("ppid", first);
	putf("%d", (int)getppid());
	key("sid", first);
	putf("%d", (int)getsid(0));
	key("pgid", first);
	putf("%d", (int)getpgid(0));
	key("uid", first);
	put_num_list(status_field(status, "Uid", v, sizeof v));
	key("gid", first);
	put_num_list(status_field(status, "Gid", v, sizeof v));
	key("groups", first);
	n = getgroups(1024, groups);
	put("[", 1);
	for (i = 0; i < n; i++)
		putf("%s%u", i ? "," : "", (unsigned)groups[i]);
	put("]", 1);

	key("caps", first);
	put("{", 1);
	f2 = 1;
	{
		static const char *names[][2] = {
			{ "inheritable", "CapInh" }, { "permitted", "CapPrm" }, { "effective", "CapEff" },
			{ "bounding", "CapBnd" },    { "ambient", "CapAmb" },
		};
		for (i = 0; i < 5; i++) {
			key(names[i][0], &f2);
			put_str(status_field(status, names[i][1], v, sizeof v) ? v : "");
		}
	}
	put("}", 1);
	key("noNewPrivs", first);
	putf("%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	key("seccomp", first);
	putf("%s", status_field(status, "Seccomp", v, sizeof v) ? v : "null");
	key("seccompFilters", first);
	putf("%s", status_field(status, "Seccomp_filters", v, sizeof v) ? v : "null");
	key("umask", first);
	put_str(status_field(status, "Umask", v, sizeof v) ? v : "");
	key("cpusAllowedList", first);
	put_str(status_field(status, "Cpus_allowed_list", v, sizeof v) ? v : "");
	key("memsAllowedList", first);
	put_str(status_field(status, "Mems_allowed_list", v, sizeof v) ? v : "");
	free(status);
}

static void section_misc(int *first)
{
	char cwd[4096];
	struct utsname u;
	char *s;

	key("cwd", first);
	if (getcwd(cwd, sizeof cwd))
		put_str(cwd);
	else
		puts_raw("null");
	uname(&u);
	key("hostname", first);
	put_str(u.nodename);
	key("domainname", first);
	put_str(u.domainname);
	key("oomScoreAdj", first);
	s = slurp("/proc/self/oom_score_adj", NULL);
	putf("%s", s ? s : "null");
	if (s && out[out_len - 1] == '\n')
		out[--out_len] = 0;
	free(s);
	key("personality", first);
	putf("%d", personality(0xffffffff));
	key("ioprio", first);
	putf("%ld", syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0));
	{
		/* struct sched_attr, as in the kernel's uapi */
		struct {
			uint32_t size, policy;
			uint64_t flags;
			int32_t nice;
			uint32_t priority;
			uint64_t runtime, deadline, period;
			uint32_t util_min, util_max;
		} a;
		int f2 = 1;
		memset(&a, 0, sizeof a);
		key("scheduler", first);
		if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) < 0) {
			put_str(errname(errno));
		} else {
			put("{", 1);
			key("policy", &f2);
			putf("%u", a.policy & ~0x40000000u /* SCHED_RESET_ON_FORK shows in policy */);
			key("resetOnFork", &f2);
			putf("%d", sched_getscheduler(0) & 0x40000000 ? 1 : 0);
			key("flags", &f2);
			putf("%llu", (unsigned long long)a.flags);
			key("nice", &f2);
			putf("%d", a.nice);
			key("priority", &f2);
			putf("%u", a.priority);
			key("runtime", &f2);
			putf("%llu", (unsigned long long)a.runtime);
			key("deadline", &f2);
			putf("%llu", (unsigned long long)a.deadline);
			key("period", &f2);
			putf("%llu", (unsigned long long)a.period);
			put("}", 1);
		}
	}
	{
		cpu_set_t set;
		int i, f2 = 1;
		key("cpus", first);
		put("[", 1);
		if (sched_getaffinity(0, sizeof set, &set) == 0)
			for (i = 0; i < CPU_SETSIZE; i++)
				if (CPU_ISSET(i, &set)) {
					putf("%s%d", f2 ? "" : ",", i);
					f2 = 0;
				}
		put("]", 1);
	}
	{
		int mode = -1, i, f2 = 1;
		unsigned long mask[16];
		memset(mask, 0, sizeof mask);
		key("mempolicy", first);
		if (syscall(SYS_get_mempolicy, &mode, mask, sizeof mask * 8, 0, 0) < 0) {
			put_str(errname(errno));
		} else {
			putf("{\"mode\":%d,\"nodes\":[", mode);
			for (i = 0; i < (int)(sizeof mask * 8); i++)
				if (mask[i / (8 * sizeof(long))] & (1UL << (i % (8 * sizeof(long))))) {
					putf("%s%d", f2 ? "" : ",", i);
					f2 = 0;
				}
			put("]}", 2);
		}
	}
	{
		/* clone3 with no arguments: EINVAL when it reaches the kernel, else what a seccomp filter says. */
		long r = syscall(435 /* SYS_clone3 */, NULL, 0);
		key("clone3", first);
		put_str(r == 0 ? "ok" : errname(errno));
	}
	{
		struct timespec ts;
		key("clocks", first);
		put("{", 1);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		putf("\"monotonic\":%lld,", (long long)ts.tv_sec);
		clock_gettime(CLOCK_BOOTTIME, &ts);
		putf("\"boottime\":%lld", (long long)ts.tv_sec);
		put("}", 1);
	}
}

static const char *const RLIMIT_NAMES[] = {
	"RLIMIT_CPU",	"RLIMIT_FSIZE",	  "RLIMIT_DATA",      "RLIMIT_STACK",	"RLIMIT_CORE",	 "RLIMIT_RSS",
	"RLIMIT_NPROC", "RLIMIT_NOFILE",  "RLIMIT_MEMLOCK",   "RLIMIT_AS",	"RLIMIT_LOCKS",	 "RLIMIT_SIGPENDING",
	"RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO",    "RLIMIT_RTTIME",
};

static void put_rlim(rlim_t v)
{
	if (v == RLIM_INFINITY)
		put_str("unlimited");
	else
		putf("%llu", (unsigned long long)v);
}

static void section_rlimits(int *first)
{
	int i, f2 = 1;
	key("rlimits", first);
	put("{", 1);
	for (i = 0; i < 16; i++) {
		struct rlimit rl;
		if (getrlimit(i, &rl) < 0)
			continue;
		key(RLIMIT_NAMES[i], &f2);
		put("{\"soft\":", 8);
		put_rlim(rl.rlim_cur);
		put(",\"hard\":", 8);
		put_rlim(rl.rlim_max);
		put("}", 1);
	}
	put("}", 1);
}

static void section_namespaces(int *first)
{
	static const char *ns[] = { "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
				    "time_for_children", "user", "uts" };
	unsigned i;
	int f2 = 1;
	key("namespaces", first);
	put("{", 1);
	for (i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		char path[64], link[128];
		ssize_t n;
		snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
		n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		key(ns[i], &f2);
		put_str(link);
	}
	put("}", 1);
}

static void section_fds(int *first)
{
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC), f2 = 1;
	DIR *d;
	struct dirent *e;
	key("fds", first);
	put("{", 1);
	if (dfd >= 0 && (d = fdopendir(dfd))) {
		while ((e = readdir(d))) {
			char path[300], link[4096];
			ssize_t n;
			if (e->d_name[0] == '.' || atoi(e->d_name) == dfd)
				continue;
			snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
			n = readlink(path, link, sizeof link - 1);
			if (n < 0)
				continue;
			link[n] = 0;
			key(e->d_name, &f2);
			put_str(link);
		}
		closedir(d);
	}
	put("}", 1);
}

/* One mountinfo field, unescaping \040-style octal escapes. */
static void put_mi_field(const char *s, size_t n)
{
	char buf[4096];
	size_t i, o = 0;
	for (i = 0; i < n && o < sizeof buf - 1; i++) {
		if (s[i] == '\\' && i + 3 < n + 0 && s[i + 1] >= '0' && s[i + 1] <= '7') {
			buf[o++] = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			buf[o++] = s[i];
		}
	}
	put_str_n(buf, o);
}

static void section_mounts(int *first)
{
	char *mi = slurp("/proc/self/mountinfo", NULL), *line, *save = NULL;
	int f1 = 1;
	key("mounts", first);
	put("[", 1);
	for (line = mi ? strtok_r(mi, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint options [optional...] - fstype source superopts */
		char *fields[64];
		int nf = 0, sep = -1, i, f2 = 1;
		char *p = line;
		while (*p && nf < 64) {
			fields[nf++] = p;
			while (*p && *p != ' ')
				p++;
			if (*p)
				*p++ = 0;
		}
		for (i = 6; i < nf; i++)
			if (!strcmp(fields[i], "-")) {
				sep = i;
				break;
			}
		if (sep < 0 || sep + 3 >= nf + 1)
			continue;
		put(f1 ? "{" : ",{", f1 ? 1 : 2);
		f1 = 0;
		key("id", &f2);
		putf("%s", fields[0]);
		key("parent", &f2);
		putf("%s", fields[1]);
		key("dev", &f2);
		put_str(fields[2]);
		key("root", &f2);
		put_mi_field(fields[3], strlen(fields[3]));
		key("mountpoint", &f2);
		put_mi_field(fields[4], strlen(fields[4]));
		key("options", &f2);
		put_str(fields[5]);
		key("optional", &f2);
		put("[", 1);
		for (i = 6; i < sep; i++) {
			if (i > 6)
				put(",", 1);
			put_str(fields[i]);
		}
		put("]", 1);
		key("fstype", &f2);
		put_str(sep + 1 < nf ? fields[sep + 1] : "");
		key("source", &f2);
		put_mi_field(sep + 2 < nf ? fields[sep + 2] : "", sep + 2 < nf ? strlen(fields[sep + 2]) : 0);
		key("superOptions", &f2);
		put_str(sep + 3 < nf ? fields[sep + 3] : "");
		put("}", 1);
	}
	put("]", 1);
	free(mi);
}

static void section_netdevs(int *first)
{
	char *s = slurp("/proc/net/dev", NULL), *line, *save = NULL;
	int n = 0, f2 = 1;
	key("netdevs", first);
	put("[", 1);
	for (line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (n++ < 2 || !colon)
			continue;
		*colon = 0;
		while (*line == ' ')
			line++;
		if (!f2)
			put(",", 1);
		f2 = 0;
		put_str(line);
	}
	put("]", 1);
	free(s);
}

static void section_env(int *first, int argc, char **argv)
{
	char **e;
	int i;
	key("args", first);
	put("[", 1);
	for (i = 0; i < argc; i++) {
		if (i)
			put(",", 1);
		put_str(argv[i]);
	}
	put("]", 1);
	key("env", first);
	put("[", 1);
	for (e = environ; *e; e++) {
		if (e != environ)
			put(",", 1);
		put_str(*e);
	}
	put("]", 1);
}

static void put_stat(const char *path, int follow)
{
	struct stat st;
	const char *type = "?";
	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
		putf("{\"error\":\"%s\"}", errname(errno));
		return;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: type = "f"; break;
	case S_IFDIR: type = "d"; break;
	case S_IFCHR: type = "c"; break;
	case S_IFBLK: type = "b"; break;
	case S_IFIFO: type = "p"; break;
	case S_IFLNK: type = "l"; break;
	case S_IFSOCK: type = "s"; break;
	}
	putf("{\"type\":\"%s\",\"mode\":%u,\"uid\":%u,\"gid\":%u,\"major\":%u,\"minor\":%u,\"size\":%lld", type,
	     (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid, major(st.st_rdev),
	     minor(st.st_rdev), (long long)st.st_size);
	if (S_ISLNK(st.st_mode)) {
		char link[4096];
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n >= 0) {
			link[n] = 0;
			put(",\"target\":", 10);
			put_str(link);
		}
	}
	put("}", 1);
}

static const char *try_write(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		char tmp[4200];
		int fd;
		snprintf(tmp, sizeof tmp, "%s/.tsr-probe-%d", path, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return errname(errno);
		close(fd);
		unlink(tmp);
		return "ok";
	} else {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return errname(errno);
		close(fd);
		return "ok";
	}
}

int main(int argc, char **argv)
{
	int first = 1, i, exit_code = 0;
	unsigned sleep_s = 0;

	put("{", 1);
	section_ids(&first);
	section_misc(&first);
	section_rlimits(&first);
	section_namespaces(&first);
	section_fds(&first);
	section_mounts(&first);
	section_netdevs(&first);
	section_env(&first, argc, argv);

	for (i = 1; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--sleep") && arg) {
			sleep_s = (unsigned)atoi(arg);
			i++;
		} else if (!strcmp(opt, "--exit") && arg) {
			exit_code = atoi(arg);
			i++;
		}
	}
	{
		/* Repeated options, each into its own object. */
		static const char *kinds[] = { "--sysctl", "--stat", "--lstat", "--read", "--write" };
		static const char *keys[] = { "sysctl", "stat", "lstat", "read", "write" };
		unsigned k;
		for (k = 0; k < 5; k++) {
			int f2 = 1;
			key(keys[k], &first);
			put("{", 1);
			for (i = 1; i + 1 < argc; i++) {
				const char *arg = argv[i + 1];
				if (strcmp(argv[i], kinds[k]))
					continue;
				i++;
				key(arg, &f2);
				if (k == 0) {
					char path[512], *p, *v;
					snprintf(path, sizeof path, "/proc/sys/%s", arg);
					for (p = path + 10; *p; p++)
						if (*p == '.')
							*p = '/';
					v = slurp(path, NULL);
					if (!v) {
						puts_raw("null");
					} else {
						size_t n = strlen(v);
						while (n && (v[n - 1] == '\n' || v[n - 1] == ' '))
							n--;
						put_str_n(v, n);
						free(v);
					}
				} else if (k == 1 || k == 2) {
					put_stat(arg, k == 1);
				} else if (k == 3) {
					size_t n;
					char *v = slurp(arg, &n);
					if (!v) {
						putf("{\"error\":\"%s\"}", errname(errno));
					} else {
						put_str_n(v, n);
						free(v);
					}
				} else {
					put_str(try_write(arg));
				}
			}
			put("}", 1);
		}
	}
	put("}\n", 2);
	{
		size_t off = 0;
		while (off < out_len) {
			ssize_t n = write(1, out + off, out_len - off);
			if (n <= 0)
				return 98;
			off += (size_t)n;
		}
	}
	if (sleep_s)
		sleep(sleep_s);
	return exit_code;
}
