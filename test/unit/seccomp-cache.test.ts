/**
 * The seccomp program cache (src/launch/seccomp-cache.ts) with a fake compiler in a temporary
 * root: what it keeps, when it compiles again, what it refuses to read; and the pin on the
 * compiler's output that tells a change to bump its format. No root needed.
 */
import t from 'tap';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { CACHE_DIR, MAX_ENTRIES, SECCOMP_CACHE_FORMAT, SeccompCacheDeps, cacheKey, cachedSeccompCompiler, decodeEntry, encodeEntry } from '../../src/launch/seccomp-cache';
import { SeccompFilter, SeccompLibrary, seccompFilter, seccompProgram } from '../../src/plan/seccomp-plan';
import { AUDIT_ARCH_X86_64, SCMP_ARCH_X32 } from '../../src/plan/seccomp-enosys';
import { loadShim } from '../../src/native/shim';
import type { TapLike } from '../helpers/runtime';

const AUDIT_ARCH_I386 = 0x40000003;

const PROFILE = {
  defaultAction: 'SCMP_ACT_ERRNO',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [
    { names: ['read', 'write', 'openat', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
    { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
  ],
};
const filterOf = (profile: object): SeccompFilter => seccompFilter(profile as never)!;

/** A stand-in for libseccomp: numbers from the names, a "program" of one instruction per rule. */
const FAKE_LIBSECCOMP: SeccompLibrary = {
  archToken: (name) => ({ x86_64: AUDIT_ARCH_X86_64, x86: AUDIT_ARCH_I386, x32: SCMP_ARCH_X32 })[name],
  nativeArch: () => AUDIT_ARCH_X86_64,
  syscallNumber(name, arch) {
    const nr = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 450, 7);
    return arch === AUDIT_ARCH_I386 ? nr + 3 : nr;
  },
  exportBpf(f) {
    const program = Buffer.alloc(8 * (f.rules.length + 1));
    f.rules.forEach((r, i) => {
      program.writeUInt32LE(r.nr >>> 0, 8 * i);
      program.writeUInt32LE(r.action >>> 0, 8 * i + 4);
    });
    program.writeUInt32LE(f.defaultAction >>> 0, 8 * f.rules.length + 4);
    return program;
  },
};

/** A cache in a fresh root, counting the compiles it asks for. */
function fixture(t: TapLike, over: Partial<SeccompCacheDeps> = {}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-seccomp-cache-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const state = { compiles: 0, library: 'fe:00 1234 /usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.4' as string | undefined };
  const deps: SeccompCacheDeps = {
    compile(filter) {
      state.compiles++;
      return seccompProgram(filter, FAKE_LIBSECCOMP);
    },
    libraryFile: () => state.library,
    hash: (text) => crypto.createHash('sha256').update(text).digest().readUInt32LE(0),
    ...over,
  };
  const compile = cachedSeccompCompiler(root, undefined, deps);
  const dir = path.join(root, CACHE_DIR);
  const entries = () => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  return { root, dir, state, compile, entries };
}

t.test('the compiler output for a filter is pinned: a change must bump SECCOMP_CACHE_FORMAT', async (t) => {
  // The cache keys a program by its filter and libseccomp, not by our code: if seccompProgram or
  // the ENOSYS stub starts making another program for the same filter, entries made before would
  // still be used. So: bump SECCOMP_CACHE_FORMAT in src/launch/seccomp-cache.ts, and update both
  // values below.
  const program = seccompProgram(filterOf(PROFILE), FAKE_LIBSECCOMP);
  t.equal(
    `${SECCOMP_CACHE_FORMAT} ${crypto.createHash('sha256').update(program).digest('hex')}`,
    '1 82ac3a70e78b59d8c21e1f71d833c0825e60efa12303dda5658ff4b2be42e6fe',
    'the program for the pinned filter is the one the cache format was made for',
  );
});

t.test('encoded entries decode for their own key only', async (t) => {
  const program = Buffer.from('0123456789abcdef');
  const entry = encodeEntry('{"k":1}', program);
  t.same(decodeEntry(entry, '{"k":1}'), program, 'its own key: the program');
  t.equal(decodeEntry(entry, '{"k":2}'), undefined, 'another key of the same length: nothing');
  t.equal(decodeEntry(entry, '{"k":12}'), undefined, 'a longer key: nothing');
  t.equal(decodeEntry(entry.subarray(0, entry.length - 1), '{"k":1}'), undefined, 'a truncated entry: nothing');
  t.equal(decodeEntry(Buffer.concat([entry, Buffer.from('x')]), '{"k":1}'), undefined, 'trailing bytes: nothing');
  t.equal(decodeEntry(encodeEntry('{"k":1}', Buffer.from('0123456')), '{"k":1}'), undefined, 'a program that is not whole 8-byte instructions: nothing');
  t.equal(decodeEntry(Buffer.from('garbage\n'), '{"k":1}'), undefined, 'not an entry: nothing');
  t.equal(decodeEntry(Buffer.alloc(0), '{"k":1}'), undefined, 'an empty file: nothing');
});

t.test('the key holds the format, the architecture, the kernel, the libseccomp file and the whole filter', async (t) => {
  const filter = filterOf(PROFILE);
  const lib = 'fe:00 1 /lib/libseccomp.so.2';
  const key = JSON.parse(cacheKey(filter, lib, '6.1.0-28-amd64', 'x64'));
  t.equal(key.format, SECCOMP_CACHE_FORMAT);
  t.equal(key.arch, 'x64');
  t.equal(key.kernel, '6.1.0-28-amd64');
  t.equal(key.libseccomp, lib);
  t.equal(key.filter.rules.length, filter.rules.length, 'every rule');
  t.same(key.filter.rules.find((r: { name: string }) => r.name === 'personality').args[0].value, '4294967295', 'argument values as decimal text');
  t.not(cacheKey(filter, lib, '6.1.0-28-amd64', 'x64'), cacheKey(filter, lib, '6.1.0-28-amd64', 'arm64'), 'another architecture: another key');
  t.not(cacheKey(filter, lib, '6.1.0-28-amd64', 'x64'), cacheKey(filter, lib, '6.12.0-1-amd64', 'x64'), 'another kernel: another key');
  t.equal(JSON.parse(cacheKey(filter, lib)).kernel, fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), "by default, this host's kernel");
});

t.test('a profile is compiled once, then read back; another profile or libseccomp compiles again', async (t) => {
  const f = fixture(t);
  const first = f.compile(filterOf(PROFILE));
  t.equal(f.state.compiles, 1, 'compiled the first time');
  t.equal(f.entries().length, 1, 'and kept');
  t.equal(fs.statSync(f.dir).mode & 0o777, 0o700, 'in a directory only its owner can enter');
  t.equal(fs.statSync(path.join(f.dir, f.entries()[0])).mode & 0o777, 0o600, 'as a file only its owner can read');
  t.same(f.compile(filterOf(PROFILE)), first, 'the same program the second time');
  t.equal(f.state.compiles, 1, 'without compiling');

  const other = f.compile(filterOf({ ...PROFILE, syscalls: [...PROFILE.syscalls, { names: ['getpid'], action: 'SCMP_ACT_ALLOW' }] }));
  t.equal(f.state.compiles, 2, 'one more rule: compiled');
  t.not(other.toString('hex'), first.toString('hex'));
  t.equal(f.entries().length, 2, 'each profile its own entry');

  f.state.library = 'fe:00 5678 /usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.5';
  t.same(f.compile(filterOf(PROFILE)), first);
  t.equal(f.state.compiles, 3, 'another libseccomp file: compiled again');

  f.state.library = undefined;
  f.compile(filterOf(PROFILE));
  f.compile(filterOf(PROFILE));
  t.equal(f.state.compiles, 5, 'libseccomp file unknown: compiled every time, nothing read');
});

t.test('an entry under the same name for another key (a hash collision) is compiled over, never used', async (t) => {
  const f = fixture(t, { hash: () => 42 });
  const a = f.compile(filterOf(PROFILE));
  const b = f.compile(filterOf({ ...PROFILE, defaultAction: 'SCMP_ACT_KILL' }));
  t.equal(f.state.compiles, 2, 'the second profile is compiled, not taken from the first one\'s entry');
  t.not(a.toString('hex'), b.toString('hex'));
  t.same(f.entries(), ['0000002a'], 'one name: the last one written holds it');
  t.same(f.compile(filterOf({ ...PROFILE, defaultAction: 'SCMP_ACT_KILL' })), b);
  t.equal(f.state.compiles, 2, 'and is read back');
});

t.test('an entry others could have written, or not a plain file, is not read', async (t) => {
  const f = fixture(t);
  const program = f.compile(filterOf(PROFILE));
  const file = path.join(f.dir, f.entries()[0]);
  // A program that allows everything, under the right key: what a planted entry would hold.
  const planted = encodeEntry(cacheKey(filterOf(PROFILE), f.state.library!), Buffer.from('0600000000000000ffff7f00', 'hex').subarray(0, 8));

  fs.writeFileSync(file, planted);
  fs.chmodSync(file, 0o666);
  t.same(f.compile(filterOf(PROFILE)), program, 'world-writable: compiled instead');
  t.equal(f.state.compiles, 2);
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'and replaced by our own entry');

  fs.rmSync(file);
  const elsewhere = path.join(f.root, 'planted');
  fs.writeFileSync(elsewhere, planted, { mode: 0o600 });
  fs.symlinkSync(elsewhere, file);
  t.same(f.compile(filterOf(PROFILE)), program, 'a symlink: compiled instead');
  t.equal(f.state.compiles, 3);
  t.ok(fs.lstatSync(file).isFile(), 'and replaced by a plain file');
});

t.test('at most MAX_ENTRIES are kept, the oldest go; what a dead writer left goes after a minute', async (t) => {
  const f = fixture(t);
  for (let i = 0; i < MAX_ENTRIES; i++) f.compile(filterOf({ ...PROFILE, syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', errnoRet: i + 1 }] }));
  t.equal(f.entries().length, MAX_ENTRIES);
  const old = Date.now() / 1000 - 3600;
  const oldest = f.entries()[0];
  fs.utimesSync(path.join(f.dir, oldest), old, old);
  fs.writeFileSync(path.join(f.dir, '.deadbeef.1'), 'half-written');
  fs.utimesSync(path.join(f.dir, '.deadbeef.1'), old, old);
  fs.writeFileSync(path.join(f.dir, '.cafebabe.2'), 'being written now');
  f.compile(filterOf(PROFILE));
  const after = f.entries();
  t.equal(after.filter((n) => !n.startsWith('.')).length, MAX_ENTRIES, 'still MAX_ENTRIES entries');
  t.notOk(after.includes(oldest), 'the oldest one went');
  t.notOk(after.includes('.deadbeef.1'), 'a writer\'s file an hour old went');
  t.ok(after.includes('.cafebabe.2'), 'a writer\'s file of now stays');
});

t.test('a root that cannot keep an entry still gets its program', async (t) => {
  const f = fixture(t);
  fs.writeFileSync(path.join(f.root, CACHE_DIR), 'not a directory');
  const program = f.compile(filterOf(PROFILE));
  t.same(program, seccompProgram(filterOf(PROFILE), FAKE_LIBSECCOMP), 'compiled');
  t.same(fs.readdirSync(f.root), [CACHE_DIR], 'nothing else written under the root');
});

t.test("the shim's hash is FNV-1a (32 bits)", async (t) => {
  const { hashText } = loadShim();
  t.equal(hashText(''), 0x811c9dc5);
  t.equal(hashText('a'), 0xe40c292c);
  t.equal(hashText('foobar'), 0xbf9cf968);
});
