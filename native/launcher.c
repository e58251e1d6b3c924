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
 * build) are node's flags: V8's lite mode, as compiled code never pays back in a process this
 * short (no JIT at all: about 2 MiB less RSS in create than with only optimization off, and no
 * writable executable memory), and without WebAssembly, which needs the JIT (said explicitly,
 * or V8 warns on every start that it turned it off).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int entry_in(const char *pkg, size_t len, char *out, size_t cap) {
  if (len + sizeof(ENTRY) > cap) return 0;
  memcpy(out, pkg, len);
  memcpy(out + len, ENTRY, sizeof(ENTRY));
  return access(out, R_OK) == 0;
}

int main(int argc, char **argv) {
  char exe[PATH_MAX], entry[PATH_MAX];
  int found = 0;
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    size_t dir = slash ? (size_t)(slash - exe) + 1 : 0;
    size_t tail = sizeof(SELF_DIR) - 1;
    if (dir >= tail && memcmp(exe + dir - tail, SELF_DIR, tail) == 0) found = entry_in(exe, dir - tail, entry, sizeof(entry));
  }
#ifdef TSR_PACKAGE_DIR
  if (!found) found = entry_in(TSR_PACKAGE_DIR, strlen(TSR_PACKAGE_DIR), entry, sizeof(entry));
#endif
  if (!found) {
    fprintf(stderr, "tsruntime: launcher %s: no built tsruntime package around it (%s): run `npm run build` in the tsruntime directory\n",
            n > 0 ? exe : argv[0], ENTRY + 1);
    return 127;
  }
  unsetenv("NODE_OPTIONS");
  unsetenv("NODE_EXTRA_CA_CERTS");

  static const char *const flags[] = { TSR_NODE_FLAGS };
  const size_t nflags = sizeof(flags) / sizeof(flags[0]);
  char **args = calloc((size_t)argc + nflags + 2, sizeof(*args));
  if (!args) return 127;
  size_t n_args = 0;
  args[n_args++] = "node";
  for (size_t i = 0; i < nflags; i++) args[n_args++] = (char *)flags[i];
  args[n_args++] = entry;
  for (int i = 1; i < argc; i++) args[n_args++] = argv[i];
  execv(TSR_NODE, args);
  int built = errno;
  execvp("node", args);
  fprintf(stderr, "tsruntime: exec node: %s (%s: %s; Node.js 20 or newer must be in PATH, or run `npm run build` with the node to use)\n",
          strerror(errno), TSR_NODE, strerror(built));
  return 127;
}
