#!/usr/bin/env node
'use strict';
/**
 * The whole build, run by `npm install` (prepare) and `npm run build`:
 *   1. types from schemas/ (json-schema-to-typescript)   → src/generated/config.ts
 *   2. ajv standalone validators from schemas/           → dist/src/generated/<schema>-validator.js
 *   3. TypeScript                                        → dist/
 *   4. the C shim and helpers, compiled here with cc     → native/build/
 *   5. a code cache per CLI command                      → dist/code-cache/
 * Nothing prebuilt is downloaded.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });

run(process.execPath, ['scripts/gen-types.js']);
run(process.execPath, ['scripts/gen-validators.js']);
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
// The flags bin/tsruntime starts node with (scripts/node-flags.json): the launcher passes them, and
// the code cache is made under the same ones, or V8 would reject it.
const NODE_FLAGS = JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts', 'node-flags.json'), 'utf8'));

const cc = process.env.CC || 'cc';
const out = path.join(ROOT, 'native', 'build');
fs.mkdirSync(out, { recursive: true });
const cflags = ['-O2', '-Wall', '-Wextra', '-Werror'];
// The shim (native/shim/: Node's side) shares init/util.c with tsr-init, the program every
// container process starts as (static: it runs from a memfd inside the container's namespaces,
// and must depend on nothing of the host's at run time).
const sources = (dir) => fs.readdirSync(path.join(ROOT, 'native', dir)).filter((f) => f.endsWith('.c')).sort().map((f) => `native/${dir}/${f}`);
const initSources = sources('init');

/**
 * tsr-init is linked with musl when it is installed (musl-tools), else with glibc's static libc:
 * the same program. glibc's start-up reads the CPU's cache sizes with cpuid, a trap to the
 * hypervisor in a VM, about 0.5 ms of every create and exec here where musl's start-up costs
 * nothing, and the binary is 42 KiB instead of 700 (copied into a sealed memfd at each of them).
 * musl-gcc sees musl's headers only: the kernel's (linux-libc-dev) come in through
 * native/build/uapi/, links to their directories. Returns the compiler and its leading flags.
 */
function initCompiler() {
  const glibc = [cc, []];
  try {
    execFileSync('musl-gcc', ['-dumpversion'], { stdio: 'ignore' });
  } catch {
    console.log('tsr-init: glibc (musl-gcc not found: apt-get install musl-tools for a faster start)');
    return glibc;
  }
  let multiarch = '';
  try {
    multiarch = execFileSync(cc, ['-print-multiarch'], { encoding: 'utf8' }).trim();
  } catch {
    // not a multiarch layout
  }
  const targets = {
    linux: '/usr/include/linux',
    'asm-generic': '/usr/include/asm-generic',
    asm: multiarch && fs.existsSync(`/usr/include/${multiarch}/asm`) ? `/usr/include/${multiarch}/asm` : '/usr/include/asm',
  };
  const missing = Object.values(targets).filter((t) => !fs.existsSync(t));
  if (missing.length) {
    console.log(`tsr-init: glibc (musl-gcc has no kernel headers: ${missing.join(', ')} missing)`);
    return glibc;
  }
  const uapi = path.join(out, 'uapi');
  fs.rmSync(uapi, { recursive: true, force: true });
  fs.mkdirSync(uapi);
  for (const [name, target] of Object.entries(targets)) fs.symlinkSync(target, path.join(uapi, name));
  console.log('tsr-init: musl');
  return ['musl-gcc', ['-isystem', uapi]];
}
run(cc, [...cflags, '-fPIC', '-shared', '-o', path.join(out, 'libtsrshim.so'), ...sources('shim'), 'native/init/util.c']);
const [initCc, initFlags] = initCompiler();
run(initCc, [...initFlags, ...cflags, '-static', '-s', '-o', path.join(out, 'tsr-init'), ...initSources]);
run(cc, [...cflags, '-o', path.join(out, 'tsr-reaper'), 'native/reaper.c']);
// tsr-addon.node (native/addon.c): Node-API only, so any node's headers do: this node's own, else
// the copy koffi (a dependency) ships.
const napiHeaders = [path.join(path.dirname(process.execPath), '..', 'include', 'node'), path.join(ROOT, 'node_modules', 'koffi', 'vendor', 'node-api-headers', 'include')]
  .find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
if (!napiHeaders) {
  console.error("build: no node_api.h, neither node's (include/node beside its bin) nor koffi's (node_modules/koffi/vendor): install node's headers, or reinstall koffi with `npm ci`");
  process.exit(1);
}
run(cc, [...cflags, '-fPIC', '-shared', `-I${napiHeaders}`, '-o', path.join(out, 'tsr-addon.node'), 'native/addon.c']);
// bin/tsruntime links to this launcher: it finds the package from /proc/self/exe, or (a copy
// moved elsewhere) from the directory it was built in, and runs the node building it now. On
// x86-64 without the C library (native/launcher.c says why): static and not position-independent,
// as nothing would apply its relocations.
const freestanding = process.arch === 'x64'
  ? ['-DTSR_FREESTANDING', '-nostdlib', '-static', '-fno-pie', '-no-pie', '-ffreestanding', '-fno-stack-protector', '-fno-tree-loop-distribute-patterns']
  : [];
// Its real path: node runs the entry without resolving it again (--preserve-symlinks-main).
run(cc, [...cflags, ...freestanding, `-DTSR_PACKAGE_DIR=${JSON.stringify(fs.realpathSync(ROOT))}`, `-DTSR_NODE=${JSON.stringify(process.execPath)}`, `-DTSR_NODE_FLAGS=${NODE_FLAGS.map((f) => JSON.stringify(f)).join(',')}`,
  '-o', path.join(out, 'tsruntime'), 'native/launcher.c']);
run(cc, [...cflags, '-static', '-o', path.join(out, 'tsr-probe'), 'conformance/probe.c']); // conformance probe: runs inside busybox rootfs
// Static, to run inside a busybox rootfs in tests.
run(cc, [...cflags, '-static', '-o', path.join(out, 'sd-notify'), 'native/tools/sd-notify.c']);
// Security tests (test/security): run inside a busybox rootfs, so static.
run(cc, [...cflags, '-static', '-o', path.join(out, 'fd-report'), 'test/fixtures/fd-report.c']);
// A fake ELF interpreter for the exe-overwrite test: a static PIE without libc, which the kernel
// maps at a free address when a dynamically linked host binary names it as its interpreter.
run(cc, [...cflags, '-static-pie', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector',
  '-o', path.join(out, 'evil-ldso'), 'test/fixtures/evil-ldso.c']);
// Test fixture (static, runs inside a busybox rootfs): swaps /etc for a symlink in a loop.
run(cc, [...cflags, '-static', '-o', path.join(out, 'passwd-swap'), 'test/fixtures/passwd-swap.c']);

// Last: the warm-ups run the commands as a real call does, through the shim and tsr-addon.node, so
// their caches hold what a real call compiles (code-cache.js refuses a warm-up that fails).
run(process.execPath, ['scripts/code-cache.js', ...NODE_FLAGS]);
