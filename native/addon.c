/*
 * tsr-addon.node: the few syscalls the short commands need, as a Node-API addon (src/native/addon.ts).
 * Loading koffi takes 1.2-2 ms (a 2 MiB module and its relocations); this addon loads in about
 * 0.1. So what a command that never calls the shim needs lives here:
 *
 *  - exit: _exit(2). Node's own exit tears the process down first (the platform's worker threads
 *    joined, cleanup hooks, koffi's among them, static destructors): about 0.5 ms of every
 *    command, 0.8 once koffi is loaded, for a process whose work is done and whose output is written.
 *  - pidfdOpen, pidfdSendSignal, pidfdWait: signal a container's init without racing a pid reuse
 *    (kill, delete --force), and wait for it to die.
 *  - readFile, readFileLatin1, statSizeMtime: what src/cli/entry.ts reads and checks to install a
 *    command's code cache. Node's fs functions are JavaScript that V8 compiles on their first call
 *    in every process (Node's own code cache holds only its modules' top levels): openSync,
 *    fstatSync, readSync, closeSync, statSync and the Stats they build cost about half a
 *    millisecond of every command (1.8 of create's, which checks 89 files) before it did anything.
 *    The two reads map the file rather than copy it (see read_whole).
 *
 * Node-API only, so it loads in any node. Syscalls, not policy: what to signal and when is
 * decided in src/state/proc.ts, what to read and trust in src/cli/entry.ts. Each returns what the
 * kernel said, -errno on failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <node_api.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The int32 arguments of a call: missing or non-numbers are 0 (addon.ts passes numbers). */
static void int_args(napi_env env, napi_callback_info info, int32_t *out, size_t n)
{
	napi_value argv[3];
	size_t argc = n;

	for (size_t i = 0; i < n; i++)
		out[i] = 0;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
		return;
	for (size_t i = 0; i < argc && i < n; i++)
		napi_get_value_int32(env, argv[i], &out[i]);
}

static napi_value int_result(napi_env env, long v)
{
	napi_value r;
	return napi_create_int32(env, (int32_t)v, &r) == napi_ok ? r : NULL;
}

static napi_value exit_now(napi_env env, napi_callback_info info)
{
	int32_t code;
	int_args(env, info, &code, 1);
	_exit(code);
}

/* A pidfd for pid (close-on-exec, as every pidfd is), or -errno. */
static napi_value pidfd_open(napi_env env, napi_callback_info info)
{
	int32_t pid;
	int_args(env, info, &pid, 1);
	long fd = syscall(SYS_pidfd_open, pid, 0);
	return int_result(env, fd < 0 ? -errno : fd);
}

/* 0, or -errno (-ESRCH: the process has exited). */
static napi_value pidfd_send_signal(napi_env env, napi_callback_info info)
{
	int32_t a[2];
	int_args(env, info, a, 2);
	return int_result(env, syscall(SYS_pidfd_send_signal, a[0], a[1], NULL, 0) < 0 ? -errno : 0);
}

/*
 * Wait up to timeout_ms for the process behind a pidfd to exit: the pidfd turns readable then,
 * whether or not anyone reaps it. 1 once it has exited, 0 on timeout, or -errno.
 */
static napi_value pidfd_wait(napi_env env, napi_callback_info info)
{
	int32_t a[2];
	int_args(env, info, a, 2);
	struct pollfd p = { .fd = a[0], .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, a[1]);
		if (r >= 0)
			return int_result(env, r);
		if (errno != EINTR)
			return int_result(env, -errno);
	}
}

/* The first argument, a path, into out (PATH_MAX bytes): 0, or -EINVAL / -ENAMETOOLONG. */
static int path_arg(napi_env env, napi_callback_info info, char *out)
{
	napi_value argv[1];
	size_t argc = 1, len = 0;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
	    napi_get_value_string_utf8(env, argv[0], out, PATH_MAX, &len) != napi_ok)
		return -EINVAL;
	return len >= PATH_MAX - 1 ? -ENAMETOOLONG : 0;
}

/*
 * node_api_create_external_string_latin1 is in Node 20.4 and later, still experimental in 20:
 * weak, so that on a Node without it the addon loads all the same and copies (NULL here).
 */
napi_status NAPI_CDECL node_api_create_external_string_latin1(napi_env env, char *str, size_t length,
							      napi_finalize finalize_callback, void *finalize_hint,
							      napi_value *result, bool *copied) __attribute__((weak));

/* A mapping's finalizer: the hint is its length. */
static void unmap(napi_env env, void *data, void *hint)
{
	(void)env;
	munmap(data, (size_t)(uintptr_t)hint);
}

/*
 * The whole of a regular file, mapped (private: a write to the Buffer stays in it), as a Buffer
 * (as_string 0) or a latin1 string (1) over the mapping, or -errno (-EINVAL: not a regular
 * file). Not read into new memory: every page of that memory is a page fault, and on the VMs
 * measured here reading create's 900 KiB of bundle and cache so took 5.5-6 ms, where mapping
 * them takes 0.2, and V8 then reads only what it needs (all of the cache, and of the source
 * only what the cache lacks). A mapped file must not be cut short meanwhile (a read past its
 * new end faults): the build replaces the code cache's files, it never rewrites them. On a Node
 * without external strings the string is a copy.
 */
static napi_value read_whole(napi_env env, napi_callback_info info, int as_string)
{
	char path[PATH_MAX];
	struct stat st;
	napi_value result = NULL;
	void *data;
	size_t size;
	bool copied;
	int e = path_arg(env, info, path), fd;

	if (e < 0)
		return int_result(env, e);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return int_result(env, -errno);
	if (fstat(fd, &st) < 0)
		e = -errno;
	else if (!S_ISREG(st.st_mode))
		e = -EINVAL;
	size = e < 0 ? 0 : (size_t)st.st_size;
	/* mmap maps nothing of an empty file. */
	data = size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0) : NULL;
	if (data == MAP_FAILED)
		e = -errno;
	close(fd);
	if (e < 0)
		return int_result(env, e);
	if (!size) {
		void *none;
		if ((as_string ? napi_create_string_latin1(env, "", 0, &result) : napi_create_buffer(env, 0, &none, &result)) != napi_ok)
			return int_result(env, -ENOMEM);
		return result;
	}
	if (!as_string) {
		if (napi_create_external_buffer(env, size, data, unmap, (void *)(uintptr_t)size, &result) == napi_ok)
			return result;
	} else if (node_api_create_external_string_latin1) {
		/* When it copies (a short string, say), it has run the finalizer already; on failure, not. */
		if (node_api_create_external_string_latin1(env, data, size, unmap, (void *)(uintptr_t)size, &result, &copied) == napi_ok)
			return result;
	} else if (napi_create_string_latin1(env, data, size, &result) == napi_ok) {
		munmap(data, size);
		return result;
	}
	munmap(data, size);
	return int_result(env, -ENOMEM);
}

static napi_value read_file(napi_env env, napi_callback_info info)
{
	return read_whole(env, info, 0);
}

static napi_value read_file_latin1(napi_env env, napi_callback_info info)
{
	return read_whole(env, info, 1);
}

/*
 * [size, mtimeMs] of a path, mtimeMs computed as Node's fs.statSync does (the same double), so it
 * equals what the build recorded from statSync; or -errno.
 */
static napi_value stat_size_mtime(napi_env env, napi_callback_info info)
{
	char path[PATH_MAX];
	struct stat st;
	napi_value r, v;
	int e = path_arg(env, info, path);

	if (e < 0)
		return int_result(env, e);
	if (stat(path, &st) < 0)
		return int_result(env, -errno);
	if (napi_create_array_with_length(env, 2, &r) != napi_ok || napi_create_double(env, (double)st.st_size, &v) != napi_ok ||
	    napi_set_element(env, r, 0, v) != napi_ok ||
	    napi_create_double(env, (double)st.st_mtim.tv_sec * 1e3 + (double)st.st_mtim.tv_nsec / 1e6, &v) != napi_ok ||
	    napi_set_element(env, r, 1, v) != napi_ok)
		return NULL;
	return r;
}

NAPI_MODULE_INIT()
{
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{ "exit", exit_now },
		{ "pidfdOpen", pidfd_open },
		{ "pidfdSendSignal", pidfd_send_signal },
		{ "pidfdWait", pidfd_wait },
		{ "readFile", read_file },
		{ "readFileLatin1", read_file_latin1 },
		{ "statSizeMtime", stat_size_mtime },
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		napi_value fn;
		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
			return NULL;
	}
	return exports;
}
