/**
 * Host binary overwrite, the runc CVE-2019-5736 class.
 *
 * The process that performs a container's final execve (the init, the exec helper, the process
 * that runs a startContainer hook) must not have a writable host binary as its /proc/self/exe.
 * The attack: the program to run is a script starting with "#!/proc/self/exe". The kernel then
 * executes the calling process's own exe as the interpreter; when that is the runtime's
 * dynamically linked binary, its ELF interpreter (PT_INTERP, /lib64/ld-linux-x86-64.so.2 for
 * node) is looked up in the container's root, where the image has put its own "loader"
 * (test/fixtures/evil-ldso.c). That loader runs inside the container with /proc/self/exe = the
 * runtime's binary, keeps an O_PATH handle on it and reopens it for writing once no process
 * executes it any more.
 *
 * Safety: the runtime is run through a copy of node that this test owns (in its temp dir), and
 * the loader writes only to the file whose device and inode the test names (that copy) or to a
 * memfd; any other file it only reports.
 *
 * Passing means: the copy is byte for byte unchanged, and the loader either never ran or got no
 * handle that accepted a write (a sealed memfd refuses it).
 */
import t, { type Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { createHash } from 'crypto';
import { spawnSync } from 'child_process';
import { NEEDS_ROOT, PROJECT, Sandbox } from '../helpers/runtime';
import { waitSync } from '../helpers/wait';

const ENTRY = path.join(PROJECT, 'dist', 'src', 'cli', 'entry.js');
const EVIL_LDSO = path.join(PROJECT, 'native', 'build', 'evil-ldso');
const INTERP = elfInterpreter(process.execPath);
const skip = NEEDS_ROOT || (!INTERP ? `${process.execPath} has no ELF interpreter to plant (statically linked)` : false);

/** PT_INTERP of a 64-bit little-endian ELF file, or undefined. */
function elfInterpreter(file: string): string | undefined {
  const buf = Buffer.alloc(64 * 1024);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined;
  const phoff = Number(buf.readBigUInt64LE(32));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 40 > buf.length) break;
    if (buf.readUInt32LE(off) !== 3 /* PT_INTERP */) continue;
    const at = Number(buf.readBigUInt64LE(off + 8));
    const size = Number(buf.readBigUInt64LE(off + 32));
    return buf.toString('latin1', at, at + size).replace(/\0[\s\S]*$/, '');
  }
  return undefined;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

interface Attack {
  sb: Sandbox;
  /** The test's own copy of node, through which the runtime runs. */
  copy: string;
  hash: string;
  /** Runs `<copy> entry.js --root ... args`, stdout (and that of detached processes) to `out`. */
  tsr(args: string[]): { status: number; stderr: string };
  out: string;
  /** The loader's report, in the rootfs of the last bundle made. */
  report: string;
  /** The environment that tells the loader which file it may write and where it is. */
  evilEnv: string[];
  /** A bundle with its own rootfs holding the loader at INTERP and /evil.sh. */
  bundle(args: string[], edit?: (spec: Record<string, any>) => void): string;
}

function setup(t: Test): Attack {
  const sb = new Sandbox(t);
  const copy = path.join(sb.dir, 'node');
  fs.copyFileSync(process.execPath, copy);
  fs.chmodSync(copy, 0o755);
  const hash = sha256(copy);
  const st = fs.statSync(copy, { bigint: true });
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  const evilEnv = [`TSR_EVIL_TARGET=${major}:${minor}:${st.ino}`, `TSR_EVIL_SELF=${INTERP}`, 'TSR_EVIL_REPORT=/evil-report'];
  const out = path.join(sb.dir, 'stdout');
  fs.writeFileSync(out, '');
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  const a: Attack = {
    sb,
    copy,
    hash,
    out,
    report: '',
    evilEnv,
    tsr(args) {
      const outFd = fs.openSync(out, 'a');
      const err = path.join(sb.dir, 'stderr');
      const errFd = fs.openSync(err, 'w');
      try {
        const res = spawnSync(copy, [ENTRY, '--root', sb.root, ...args], { stdio: ['ignore', outFd, errFd], env, timeout: 30_000 });
        if (res.error) throw res.error;
        return { status: res.status ?? 128, stderr: fs.readFileSync(err, 'utf8') };
      } finally {
        fs.closeSync(outFd);
        fs.closeSync(errFd);
      }
    },
    bundle(args, edit) {
      const dir = sb.bundle(args, (spec) => {
        spec.process.env.push(...evilEnv);
        spec.root.readonly = false; // the loader writes its report there
        edit?.(spec);
      }, true);
      a.report = path.join(dir, 'rootfs', 'evil-report');
      return dir;
    },
  };
  return a;
}

/** Put the loader where the runtime binary's interpreter is looked up, and the script. */
function plant(bundle: string): void {
  const rootfs = path.join(bundle, 'rootfs');
  const ldso = path.join(rootfs, INTERP!);
  fs.mkdirSync(path.dirname(ldso), { recursive: true });
  fs.copyFileSync(EVIL_LDSO, ldso);
  fs.chmodSync(ldso, 0o755);
  fs.writeFileSync(path.join(rootfs, 'evil.sh'), '#!/proc/self/exe\n', { mode: 0o755 });
}

/** The loader's report lines, from the file it appends to in the container's rootfs. */
function reports(a: Attack): string[] {
  let text = '';
  try {
    text = fs.readFileSync(a.report, 'utf8');
  } catch {
    /* not written (yet) */
  }
  return text.split('\n').filter((l) => l.startsWith('evil-ldso: '));
}

/** The loader has nothing more to say: it never ran, it stopped at stage 1, or stage 2 reported. */
function loaderDone(a: Attack): boolean {
  const lines = reports(a);
  return lines.some((l) => /stage=2 /.test(l)) || lines.some((l) => /stage=1 .* next=none/.test(l)) || lines.some((l) => /kind=none/.test(l));
}

/** The container's status, or 'gone' once it no longer exists (a failed run removes it). */
function statusOf(sb: Sandbox, id: string): string {
  try {
    return sb.state(id).status;
  } catch {
    return 'gone';
  }
}

function field(line: string, name: string): string | undefined {
  return new RegExp(` ${name}=(\\S+)`).exec(line)?.[1];
}

/** The assertions every scenario ends with. */
function checkHost(t: Test, a: Attack, what: string): void {
  const lines = reports(a);
  t.comment(`${what}: ${lines.length ? lines.join(' | ') : 'the loader never ran'}`);
  t.equal(sha256(a.copy), a.hash, `${what}: the runtime binary (the test's copy of node) is unchanged`);
  for (const line of lines) {
    const stage = field(line, 'stage');
    const kind = field(line, 'kind');
    const where = `${what}, loader stage ${stage}`;
    // Another host file as exe: the loader did not touch it; a read-only mount (EROFS) is safe.
    t.ok(kind !== 'other' || field(line, 'access') === 'E30', `${where}: no writable host binary other than the test's copy was the container process's exe`, { report: line });
    if (kind === 'target') {
      t.ok(field(line, 'reopen') !== 'ok' && field(line, 'direct') !== 'ok', `${where}: the image's loader got no writable handle on the runtime binary`, { report: line });
    }
    t.equal(field(line, 'wrote') ?? 'none', 'none', `${where}: nothing was written through the container's /proc/self/exe`, { report: line });
  }
}

t.test('run: the init execs a #!/proc/self/exe script', { skip }, async (t) => {
  const a = setup(t);
  const id = a.sb.id('exe');
  const bundle = a.bundle(['/evil.sh']);
  plant(bundle);
  const r = a.tsr(['run', '--detach', '--bundle', bundle, id]);
  t.comment(`run --detach: exit ${r.status} ${r.stderr.trim()}`);
  // The loader, as the container's pid 1, stays until its helper is done; then the container stops.
  waitSync(() => loaderDone(a) || ['stopped', 'gone'].includes(statusOf(a.sb, id)), 20_000);
  waitSync(() => loaderDone(a), 2000);
  checkHost(t, a, 'run');
});

t.test('exec: the exec process execs a #!/proc/self/exe script', { skip }, async (t) => {
  const a = setup(t);
  const id = a.sb.id('exe');
  const bundle = a.bundle(['sleep', '300']);
  plant(bundle);
  const r = a.tsr(['run', '--detach', '--bundle', bundle, id]);
  t.equal(r.status, 0, `the container runs (${r.stderr.trim()})`);
  const pidFile = path.join(a.sb.dir, 'exec.pid');
  const e = a.tsr(['exec', '--detach', '--pid-file', pidFile, id, '/evil.sh']);
  t.comment(`exec --detach: exit ${e.status} ${e.stderr.trim()}`);
  const pid = e.status === 0 ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
  // The exec'd process waits for its helper, then exits (a zombie: nobody in the container reaps).
  const gone = () => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return true;
    }
  };
  waitSync(() => loaderDone(a) || (pid > 0 && gone()) || pid === 0, 20_000);
  waitSync(() => loaderDone(a), 2000);
  checkHost(t, a, 'exec');
});

t.test('startContainer hook: the init runs a #!/proc/self/exe script as a hook', { skip }, async (t) => {
  const a = setup(t);
  const id = a.sb.id('exe');
  const bundle = a.bundle(['sh', '-c', 'echo user-process-started; exec sleep 300'], (s) => {
    // The hook's loader must not keep the init waiting: it leaves its helper behind and exits.
    s.hooks = { startContainer: [{ path: '/evil.sh', env: [...a.evilEnv, 'TSR_EVIL_DETACH=1'] }] };
  });
  plant(bundle);
  const r = a.tsr(['run', '--detach', '--bundle', bundle, id]);
  t.comment(`run --detach: exit ${r.status} ${r.stderr.trim()}`);
  // After the hooks, the user process says so (or the init gave up and the container stopped).
  waitSync(() => /user-process-started/.test(fs.readFileSync(a.out, 'utf8')) || ['stopped', 'gone'].includes(statusOf(a.sb, id)), 20_000);
  if (reports(a).length) waitSync(() => loaderDone(a), 20_000);
  checkHost(t, a, 'startContainer hook');
});
