/**
 * libseccomp through koffi (src/native/seccomp.ts) against the real library: what the ENOSYS stub
 * assumes of it, a rule it refuses named in the error, the message a host without it gets, and
 * that a container without linux.seccomp never loads it.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { bindLibseccomp, libseccomp, libseccompFile } from '../../src/native/seccomp';
import { compileSeccomp } from '../../src/launch/host-probe';
import { seccompFilter } from '../../src/plan/seccomp-plan';
import { AUDIT_ARCH_X86_64, SCMP_ARCH_X32, X32_SYSCALL_BIT } from '../../src/plan/seccomp-enosys';
import { BIN, NEEDS_ROOT, Sandbox } from '../helpers/runtime';

/** AUDIT_ARCH_* of <linux/audit.h>, what the kernel puts in seccomp_data.arch. */
const AUDIT_ARCH: Record<string, number> = {
  x86: 0x40000003, x86_64: 0xc000003e, arm: 0x40000028, aarch64: 0xc00000b7, mips: 0x8, mipsel: 0x40000008,
  mips64: 0x80000008, mipsel64: 0xc0000008, mips64n32: 0xa0000008, mipsel64n32: 0xe0000008, ppc: 0x14,
  ppc64: 0x80000015, ppc64le: 0xc0000015, s390: 0x16, s390x: 0x80000016, parisc: 0xf, parisc64: 0x8000000f,
  riscv64: 0xc00000f3,
};

t.test('libseccomp\'s architecture tokens are the kernel\'s AUDIT_ARCH values, but for x32', async (t) => {
  const lib = libseccomp();
  for (const [name, audit] of Object.entries(AUDIT_ARCH)) t.equal(lib.archToken(name), audit, name);
  t.equal(lib.archToken('x32'), SCMP_ARCH_X32, 'x32: its own token, x86_64\'s AUDIT_ARCH without the 64-bit flag');
  t.equal(lib.archToken('vax'), undefined, 'an architecture it does not know');
  t.equal(lib.syscallNumber('not_a_syscall'), undefined, 'a syscall it does not know');
  t.equal(lib.syscallNumber('openat2', AUDIT_ARCH.aarch64), 437);
  t.equal(lib.syscallNumber('read', SCMP_ARCH_X32), X32_SYSCALL_BIT, 'x32 numbers carry the x32 bit, as the kernel sees them');
  if (process.arch === 'x64') {
    t.equal(lib.nativeArch(), AUDIT_ARCH_X86_64);
    t.ok(lib.syscallNumber('socketcall')! < -1, 'a syscall only other architectures have: a pseudo-syscall number for the rules');
  }
});

t.test('the libseccomp file this process loaded is found, as the program cache keys its entries', async (t) => {
  const file = libseccompFile();
  t.match(file, /^[0-9a-f]+:[0-9a-f]+ [1-9]\d* \/\S*\/libseccomp\.so[.\d]*$/, `device, inode and path (${file})`);
  const [, inode, where] = file!.split(' ');
  t.equal(String(fs.statSync(where).ino), inode, 'the inode is that file\'s');
});

t.test('what libseccomp refuses is named: the rule, the default action, the architectures', async (t) => {
  const compile = (cfg: object) => {
    try {
      compileSeccomp(seccompFilter(cfg as never)!);
      return '(no error)';
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  };
  t.equal(
    compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO' }, { names: ['rmdir', 'mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 5000 }] }),
    'InvalidConfigError: linux.seccomp.syscalls[1]: libseccomp refused the rule for syscall rmdir: EINVAL (check its action, errnoRet and args)',
  );
  t.equal(
    compile({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 5000 }),
    'InvalidConfigError: linux.seccomp.defaultAction: libseccomp refused the default action (check defaultAction and defaultErrnoRet)',
  );
  t.equal(
    compile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_S390X'] }),
    'InvalidConfigError: linux.seccomp.architectures: libseccomp cannot add s390x to this filter: EDOM',
    'little- and big-endian architectures cannot share a filter',
  );
});

t.test('a host without libseccomp.so.2: one line saying what to install', async (t) => {
  t.throws(() => bindLibseccomp('libseccomp-missing.so.2'), {
    name: 'UnsupportedError',
    message: /^linux\.seccomp needs libseccomp-missing\.so\.2 \(Debian: libseccomp2, Fedora: libseccomp\): install it, or remove linux\.seccomp from config\.json \(.*\)$/,
  });
});

t.test('a container without linux.seccomp never loads libseccomp; one with it does', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  /** The libraries `run` loaded, as the dynamic loader reports them (LD_DEBUG=files). */
  const loaded = (edit?: (s: Record<string, any>) => void): string => {
    const bundle = sb.bundle(['true'], edit);
    const err = path.join(sb.dir, `ld-debug-${sb.id('ld')}`);
    const errFd = fs.openSync(err, 'w');
    const id = sb.id();
    try {
      const r = spawnSync(BIN, ['--root', sb.root, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, LD_DEBUG: 'files' }, timeout: 30_000 });
      t.equal(r.status, 0, 'the container ran');
    } finally {
      fs.closeSync(errFd);
    }
    return fs.readFileSync(err, 'utf8');
  };
  const without = loaded();
  t.match(without, /file=.*libtsrshim\.so/, 'the loader\'s report is there (the shim was loaded)');
  t.notMatch(without, /libseccomp/, 'no linux.seccomp: no libseccomp');
  t.match(loaded((s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] })), /file=libseccomp\.so\.2/, 'with it: loaded');
});
