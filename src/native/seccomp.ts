/**
 * libseccomp through koffi. It decides nothing: src/plan/seccomp-plan.ts picks every action,
 * architecture and rule, and asks it only what it knows (architecture tokens, syscall numbers)
 * and for the BPF program of a filter. Loaded for the first profile compiled, so containers without
 * linux.seccomp never load it and run on a host without libseccomp.so.2.
 */
import fs from 'fs';
import { InvalidConfigError, RuntimeError, UnsupportedError, errnoName } from '../errors';
import type { ResolvedSeccompFilter, SeccompLibrary } from '../plan/seccomp-plan';
import { libc } from './libc';
import { boundOnFirstCall, loadKoffi } from './koffi';

const SONAME = 'libseccomp.so.2';
const SCMP_FLTATR_CTL_NNP = 3;
const NR_SCMP_ERROR = -1;
const MFD_CLOEXEC = 1;
const EEXIST = 17;

let cached: SeccompLibrary | undefined;

/** libseccomp.so.2, bound once per process. */
export function libseccomp(): SeccompLibrary {
  if (!cached) cached = bindLibseccomp(SONAME);
  return cached;
}

let file: string | undefined;

/**
 * The libseccomp file the dynamic loader gave this process: "device inode path" as
 * /proc/self/maps shows it; undefined if it is not found there. A program compiled by one
 * libseccomp is reused with that same file only (src/launch/seccomp-cache.ts): another build may
 * know other syscalls (distributions add names to a version in their patches).
 */
export function libseccompFile(): string | undefined {
  libseccomp();
  if (file !== undefined) return file || undefined;
  file = '';
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    // start-end perms offset dev inode path
    const f = line.split(/\s+/);
    if (f.length >= 6 && /\/libseccomp\.so[.\d]*$/.test(f[5]) && f[4] !== '0') {
      file = `${f[3]} ${f[4]} ${f.slice(5).join(' ')}`;
      break;
    }
  }
  return file || undefined;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;

/** Bind the library named soname (tests give a missing one, for the message a host without it gets). */
export function bindLibseccomp(soname: string): SeccompLibrary {
  const koffi = loadKoffi();
  let lib: any;
  try {
    lib = koffi.load(soname);
  } catch (e) {
    throw new UnsupportedError(`linux.seccomp needs ${soname} (Debian: libseccomp2, Fedora: libseccomp): install it, or remove linux.seccomp from config.json (${(e as Error).message})`);
  }
  const argCmp = koffi.struct({ arg: 'unsigned int', op: 'int', datum_a: 'uint64_t', datum_b: 'uint64_t' });
  // Bound on first call: a program found in the cache (src/launch/seccomp-cache.ts) needs the
  // library loaded, and none of its functions.
  const fn = (name: string, result: string, params: unknown[]): (() => Fn) =>
    boundOnFirstCall<Fn>(() => {
      try {
        return lib.func(name, result, params);
      } catch {
        throw new UnsupportedError(`linux.seccomp: ${soname} has no ${name}: install libseccomp 2.5 or newer`);
      }
    });
  const init = fn('seccomp_init', 'void *', ['uint32_t']);
  const release = fn('seccomp_release', 'void', ['void *']);
  const attrSet = fn('seccomp_attr_set', 'int', ['void *', 'int', 'uint32_t']);
  const archResolveName = fn('seccomp_arch_resolve_name', 'uint32_t', ['const char *']);
  const archNative = fn('seccomp_arch_native', 'uint32_t', []);
  const archAdd = fn('seccomp_arch_add', 'int', ['void *', 'uint32_t']);
  const resolveName = fn('seccomp_syscall_resolve_name', 'int', ['const char *']);
  const resolveNameArch = fn('seccomp_syscall_resolve_name_arch', 'int', ['uint32_t', 'const char *']);
  const ruleAdd = fn('seccomp_rule_add_array', 'int', ['void *', 'uint32_t', 'int', 'unsigned int', koffi.pointer(argCmp)]);
  const exportBpf = fn('seccomp_export_bpf', 'int', ['void *', 'int']);
  const memfdCreate = boundOnFirstCall<Fn>(() => libc().lib.func('memfd_create', 'int', ['const char *', 'unsigned int'])); // in glibc since 2.27, and Node 20 needs 2.28

  /** libseccomp writes the program to an fd: a memfd, read back whole. */
  const exported = (ctx: unknown): Buffer => {
    const fd = memfdCreate()('tsr-seccomp', MFD_CLOEXEC);
    if (fd < 0) throw new RuntimeError(`linux.seccomp: memfd_create: ${errnoName(koffi.errno())}`);
    try {
      const rc = exportBpf()(ctx, fd);
      if (rc < 0) throw new RuntimeError(`linux.seccomp: exporting libseccomp's program: ${errnoName(-rc)}`);
      const program = Buffer.alloc(fs.fstatSync(fd).size);
      if (fs.readSync(fd, program, 0, program.length, 0) !== program.length) throw new RuntimeError('linux.seccomp: short read of libseccomp\'s program');
      return program;
    } finally {
      fs.closeSync(fd);
    }
  };

  return {
    archToken: (name) => archResolveName()(name) || undefined,
    nativeArch: () => archNative()(),
    syscallNumber(name, arch) {
      const nr = arch === undefined ? resolveName()(name) : resolveNameArch()(arch, name);
      return nr === NR_SCMP_ERROR ? undefined : nr;
    },
    exportBpf(filter: ResolvedSeccompFilter): Buffer {
      const ctx = init()(filter.defaultAction);
      if (!ctx) throw new InvalidConfigError('linux.seccomp.defaultAction: libseccomp refused the default action (check defaultAction and defaultErrnoRet)');
      try {
        // Only exported here: the init loads the program with the plan's flags, and no_new_privs is the plan's too.
        attrSet()(ctx, SCMP_FLTATR_CTL_NNP, 0);
        for (const a of filter.architectures) {
          const rc = archAdd()(ctx, a.token);
          if (rc < 0 && rc !== -EEXIST) throw new InvalidConfigError(`linux.seccomp.architectures: libseccomp cannot add ${a.name} to this filter: ${errnoName(-rc)}`);
        }
        for (const r of filter.rules) {
          const args = r.args.map((c) => ({ arg: c.index, op: c.op, datum_a: c.value, datum_b: c.valueTwo }));
          const rc = ruleAdd()(ctx, r.action, r.nr, args.length, args.length ? args : null);
          if (rc < 0) throw new InvalidConfigError(`${r.where}: libseccomp refused the rule for syscall ${r.name}: ${errnoName(-rc)} (check its action, errnoRet and args)`);
        }
        return exported(ctx);
      } finally {
        release()(ctx);
      }
    },
  };
}
