/*
 * tsruntime launcher (bin/tsruntime links here): execs node on the CLI's entry.
 *
 * Every runtime command is a fresh process, so the launcher must cost nothing: no shell, no
 * readlink/dirname processes. The package directory comes from /proc/self/exe, which the kernel
 * has already resolved through any symlink (npm's .bin link, a link in /usr/local/bin); a copy
 * of this binary elsewhere falls back to the directory it was built in.
 *
 * Node is the one the package was built with (TSR_NODE, its absolute path at build time): the code
 * caches in dist/code-cache/ were made by it and V8 rejects them in any other version, and engines
 * call the runtime with their own PATH (a service's, where an nvm or /opt node is not): a PATH
 * search would find another node, or none. Only when that node is gone does PATH decide.
 *
 * NODE_OPTIONS may preload anything into a process that runs as root and clones containers, and
 * NODE_EXTRA_CA_CERTS makes Node parse a certificate bundle at every start (a runtime makes no
 * TLS connection): neither reaches node. TSR_NODE_FLAGS (scripts/node-flags.json, passed by the
 * build) are node's flags. No JIT, as compiled code never pays back in a process this short
 * (about 2 MiB less RSS in create than with only optimization off, and no writable executable
 * memory), with feedback vectors made only for functions that run again, as V8's lite mode does.
 * Not lite mode itself: it holds the young generation at 1 MiB, and create, run and exec each
 * allocate a little more than that, so each paid a scavenge (about 1 ms here); 2 MiB semi-spaces
 * spare it for about 0.1 MiB more peak RSS. Without WebAssembly, which needs the JIT (said
 * explicitly, or V8 warns on every start that it turned it off). The entry's path is already real
 * (from /proc/self/exe, or the build's real path), so node does not realpath it again
 * (--preserve-symlinks-main: an lstat per directory up to /, about 0.25 ms).
 *
 * On x86-64 the build makes it without the C library (TSR_FREESTANDING: -nostdlib, its own _start
 * and raw syscalls): glibc's start-up alone (the dynamic loader, and the CPU's cache sizes read
 * with cpuid, a trap to the hypervisor in a VM) took about half a millisecond of every command,
 * and node pays it again anyway. Elsewhere the same code runs on the C library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef TSR_NODE
#error "TSR_NODE: the absolute path of the node that built the package (scripts/build.js passes it)"
#endif
#ifndef TSR_NODE_FLAGS
#error "TSR_NODE_FLAGS: node's flags, from scripts/node-flags.json (scripts/build.js passes them)"
#endif

#define ENTRY "/dist/src/cli/entry.js"
/* Where this binary sits below the package directory. */
#define SELF_DIR "/native/build/"
#define PATH_CAP 4096

#ifdef TSR_FREESTANDING
#ifndef __x86_64__
#error "TSR_FREESTANDING: only x86-64's syscalls and _start are written here"
#endif
static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}
static long sys4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return r;
}
/* Raw syscalls return -errno. */
#define RAW(r) (r)
#else
static long sys3(long n, long a, long b, long c) { return syscall(n, a, b, c); }
static long sys4(long n, long a, long b, long c, long d) { return syscall(n, a, b, c, d); }
/* syscall(2) returns -1 and sets errno. A function, so that the call in r is made once. */
static long raw_result(long r) { return r < 0 ? -(long)errno : r; }
#define RAW(r) raw_result(r)
#endif

static long readlink_at(const char *path, char *buf, size_t cap) { return RAW(sys4(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf, (long)cap)); }
static long access_at(const char *path, int mode) { return RAW(sys4(SYS_faccessat, AT_FDCWD, (long)path, mode, 0)); }
static long exec_ve(const char *path, char *const argv[], char *const envp[]) { return RAW(sys3(SYS_execve, (long)path, (long)argv, (long)envp)); }
static void write_err(const char *s, size_t n) { sys3(SYS_write, 2, (long)s, (long)n); }
#ifdef TSR_FREESTANDING
/* 0, or -errno; the kernel's struct stat is 144 bytes on x86-64. */
static long lstat_path(const char *path)
{
	long st[32];
	return RAW(sys4(SYS_newfstatat, AT_FDCWD, (long)path, (long)st, AT_SYMLINK_NOFOLLOW));
}
#else
#include <sys/stat.h>
static long lstat_path(const char *path)
{
	struct stat st;
	return fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -(long)errno;
}
#endif

#ifdef TSR_FREESTANDING
/* What the compiler may call for struct copies and loops even without the C library. */
void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n--)
		*d++ = *s++;
	return dst;
}
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}
#else
#include <string.h>
#endif

static size_t str_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}
static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* A runtime's temporary entry under --root, live or dead (TEMP_ENTRY in src/state/store.ts). */
static int is_temp_entry(const char *name)
{
	return starts_with(name, "@lock.") || starts_with(name, "@new.") || starts_with(name, "@del.");
}
/*
 * Whether dir holds a temporary entry: those of dead runtimes are for Node's delete to sweep. 0
 * when dir does not exist; 1 when it cannot be read, as then only Node can tell.
 */
static int has_temp_entries(const char *dir)
{
	/* Raw in both builds: openat, getdents64 and close are the same on every architecture. */
	long fd = RAW(sys4(SYS_openat, AT_FDCWD, (long)dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return 1;
	struct dirent64_record {
		unsigned long long ino;
		long long off;
		unsigned short reclen;
		unsigned char type;
		char name[];
	};
	long buf[1024];
	int found = 0;
	while (!found) {
		long n = RAW(sys3(SYS_getdents64, fd, (long)buf, sizeof(buf)));
		if (n <= 0) {
			found = n < 0;
			break;
		}
		for (long off = 0; off < n && !found;) {
			const struct dirent64_record *d = (const void *)((const char *)buf + off);
			found = is_temp_entry(d->name);
			off += d->reclen;
		}
	}
	sys3(SYS_close, fd, 0, 0);
	return found;
}

/*
 * An id that src/state/store.ts accepts (its ID_PATTERN, NAME_MAX) and that no parser could take
 * for a flag: 1 to 255 of [A-Za-z0-9_+.-], not "." or "..", not starting with '-'.
 */
static int plain_id(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++) {
		char c = id[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '.' || c == '-'))
			return 0;
	}
	return n >= 1 && n <= 255 && id[0] != '-' && !same(id, ".") && !same(id, "..");
}

/*
 * The one call the launcher answers itself: `delete --force <id>` when nothing named <id> is
 * under --root. containerd's shim, and so Docker and Kubernetes, deletes every container twice:
 * `delete <id>`, then `delete --force <id>`, which must succeed with nothing left to do. Starting
 * Node only to find the name missing was a fifth of the runtime's share of `ctr run`.
 *
 * Only what the shim sends is recognised: the global flags go-runc writes (each once, as
 * `--flag value` or `--flag=value`; --root required), then `delete`, `--force` or `-f`, and a
 * plain id; and only an entry that lstat finds missing (ENOENT) is gone. Anything else goes to
 * Node, which gives the same answer in this case (src/lifecycle/delete.ts: exit 0, no output,
 * nothing made; test/integration/cli.test.ts runs both): another flag or value, a repeated flag,
 * an id Node might refuse, an entry of any kind, a root it cannot look into, and a root holding a
 * runtime's temporary entry (Node's delete sweeps those of dead runtimes: a create killed before
 * it claimed its id leaves one, and `delete --force` is how it is cleaned up).
 */
enum flag_kind { ANY_VALUE, LOG_FORMAT, ROOTLESS, SWITCH };
static const struct {
	const char *name;
	enum flag_kind kind;
} shim_flags[] = {
	{ "--root", ANY_VALUE }, { "--log", ANY_VALUE }, { "--log-format", LOG_FORMAT },
	{ "--criu", ANY_VALUE }, /* ignored by the CLI, as runc's is for delete */
	{ "--systemd-cgroup", SWITCH }, { "--rootless", ROOTLESS },
};
#define N_SHIM_FLAGS (sizeof(shim_flags) / sizeof(shim_flags[0]))

static int gone_force_delete(int argc, char **argv)
{
	const char *values[N_SHIM_FLAGS] = { NULL };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		size_t k = 0;
		const char *value = NULL;
		for (; k < N_SHIM_FLAGS; k++) {
			size_t n = str_len(shim_flags[k].name);
			if (same(argv[i], shim_flags[k].name)) {
				if (shim_flags[k].kind == SWITCH)
					value = "";
				else if (i + 1 < argc)
					value = argv[++i];
				break;
			}
			if (shim_flags[k].kind != SWITCH && starts_with(argv[i], shim_flags[k].name) && argv[i][n] == '=') {
				value = argv[i] + n + 1;
				break;
			}
		}
		if (k == N_SHIM_FLAGS || !value || values[k])
			return 0;
		if (shim_flags[k].kind == LOG_FORMAT && !same(value, "text") && !same(value, "json"))
			return 0;
		if (shim_flags[k].kind == ROOTLESS && !same(value, "true") && !same(value, "false") && !same(value, "auto"))
			return 0;
		values[k] = value;
	}
	const char *root = values[0];
	if (!root || !*root)
		return 0;
	if (argc - i != 3 || !same(argv[i], "delete") || !(same(argv[i + 1], "--force") || same(argv[i + 1], "-f")) || !plain_id(argv[i + 2]))
		return 0;
	char path[PATH_CAP];
	size_t r = str_len(root), n = str_len(argv[i + 2]);
	if (r + 1 + n + 1 > sizeof(path))
		return 0;
	memcpy(path, root, r);
	path[r] = '/';
	memcpy(path + r + 1, argv[i + 2], n + 1);
	return lstat_path(path) == -ENOENT && !has_temp_entries(root);
}

/* Messages are put together in one buffer, so they reach stderr as one write. */
struct msg {
	char buf[2 * PATH_CAP];
	size_t len;
};
static void put(struct msg *m, const char *s)
{
	while (*s && m->len < sizeof(m->buf) - 1)
		m->buf[m->len++] = *s++;
}
static void put_errno(struct msg *m, long e)
{
	switch (e) {
	case ENOENT: put(m, "No such file or directory"); return;
	case EACCES: put(m, "Permission denied"); return;
	case ENOEXEC: put(m, "Exec format error"); return;
	case ENOTDIR: put(m, "Not a directory"); return;
	case ELOOP: put(m, "Too many levels of symbolic links"); return;
	case ENOMEM: put(m, "Cannot allocate memory"); return;
	case E2BIG: put(m, "Argument list too long"); return;
	}
	char digits[24];
	int i = (int)sizeof(digits);
	digits[--i] = '\0';
	do
		digits[--i] = (char)('0' + e % 10);
	while ((e /= 10) > 0 && i > 0);
	put(m, "errno ");
	put(m, digits + i);
}

static int entry_in(const char *pkg, size_t len, char *out, size_t cap)
{
	if (len + sizeof(ENTRY) > cap)
		return 0;
	memcpy(out, pkg, len);
	memcpy(out + len, ENTRY, sizeof(ENTRY));
	return access_at(out, R_OK) == 0;
}

/*
 * execvp's search, for when the node that built the package is gone. Returns what to report:
 * the last error other than "not there", else ENOENT.
 */
static long exec_from_path(char *const envp[], char *const argv[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	for (char *const *e = envp; *e; e++)
		if (starts_with(*e, "PATH="))
			path = *e + 5;
	long err = -ENOENT;
	char file[PATH_CAP];
	for (const char *p = path;; p++) {
		const char *end = p;
		while (*end && *end != ':')
			end++;
		size_t n = (size_t)(end - p);
		if (n == 0) { /* an empty entry is the current directory */
			file[0] = '.';
			n = 1;
		} else if (n < sizeof(file) - 6) {
			memcpy(file, p, n);
		} else {
			n = 0;
		}
		if (n > 0) {
			memcpy(file + n, "/node", 6);
			long r = exec_ve(file, argv, envp);
			if (r != -ENOENT && r != -ENOTDIR)
				err = r;
		}
		if (!*end)
			break;
		p = end;
	}
	return err;
}

static int launch(int argc, char **argv, char **envp)
{
	static char exe[PATH_CAP], entry[PATH_CAP];
	struct msg m = { .len = 0 };
	int found = 0;
	if (gone_force_delete(argc, argv))
		return 0;
	long n = readlink_at("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		size_t dir = 0;
		for (long i = 0; i < n; i++)
			if (exe[i] == '/')
				dir = (size_t)i + 1;
		size_t tail = sizeof(SELF_DIR) - 1;
		if (dir >= tail && starts_with(exe + dir - tail, SELF_DIR))
			found = entry_in(exe, dir - tail, entry, sizeof(entry));
	}
#ifdef TSR_PACKAGE_DIR
	if (!found)
		found = entry_in(TSR_PACKAGE_DIR, str_len(TSR_PACKAGE_DIR), entry, sizeof(entry));
#endif
	if (!found) {
		put(&m, "tsruntime: launcher ");
		put(&m, n > 0 ? exe : argv[0] ? argv[0] : "tsruntime");
		put(&m, ": no built tsruntime package around it (" ENTRY "): run `npm run build` in the tsruntime directory\n");
		write_err(m.buf, m.len);
		return 127;
	}

	size_t envc = 0;
	while (envp[envc])
		envc++;
	char *env[envc + 1];
	size_t kept = 0;
	for (size_t i = 0; i < envc; i++)
		if (!starts_with(envp[i], "NODE_OPTIONS=") && !starts_with(envp[i], "NODE_EXTRA_CA_CERTS="))
			env[kept++] = envp[i];
	env[kept] = NULL;

	static char *const flags[] = { TSR_NODE_FLAGS };
	const size_t nflags = sizeof(flags) / sizeof(flags[0]);
	/* node, its flags, the entry, argv[1..], NULL (argc may be 0) */
	char *args[(size_t)argc + nflags + 3];
	size_t n_args = 0;
	args[n_args++] = "node";
	for (size_t i = 0; i < nflags; i++)
		args[n_args++] = flags[i];
	args[n_args++] = entry;
	for (int i = 1; i < argc; i++)
		args[n_args++] = argv[i];
	args[n_args] = NULL;

	long built = exec_ve(TSR_NODE, args, env);
	long err = exec_from_path(env, args);
	put(&m, "tsruntime: exec node: ");
	put_errno(&m, -err);
	put(&m, " (" TSR_NODE ": ");
	put_errno(&m, -built);
	put(&m, "; Node.js 20 or newer must be in PATH, or run `npm run build` with the node to use)\n");
	write_err(m.buf, m.len);
	return 127;
}

#ifdef TSR_FREESTANDING
/* The kernel's initial stack: argc, argv[], NULL, envp[], NULL. */
__attribute__((used)) void launcher_start(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	sys3(SYS_exit_group, launch(argc, argv, argv + argc + 1), 0, 0);
	for (;;)
		;
}
__asm__(".text\n.global _start\n_start:\n xor %rbp, %rbp\n mov %rsp, %rdi\n and $-16, %rsp\n call launcher_start\n hlt\n");
#else
int main(int argc, char **argv, char **envp) { return launch(argc, argv, envp); }
#endif
