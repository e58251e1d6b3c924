/**
 * Checks for the security tests (test/security): what a malicious bundle may have changed on the
 * host (files the test owns, the host's mounts), and a container with a terminal whose output is
 * read through the pty master handed over on --console-socket.
 */
import fs from 'fs';
import path from 'path';
import { Result, Sandbox } from './runtime';
import { Facts, MountInfo, mountAt } from './probe';
import { loadShim } from '../../src/native/shim';

/**
 * Every entry under dir, by relative path, without following symlinks: a file's contents, a
 * symlink's target, a directory's mode. Compare two snapshots to see what an attack changed.
 */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    const p = path.join(dir, rel);
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `symlink -> ${fs.readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = `file ${(st.mode & 0o7777).toString(8)}: ${fs.readFileSync(p, 'latin1')}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
      for (const e of fs.readdirSync(p).sort()) walk(path.join(rel, e));
    } else out[rel] = `other ${st.mode.toString(8)} ${st.rdev}`;
  };
  walk('.');
  return out;
}

/** The container's mount at mountpoint (the top one), or undefined, also when the probe did not run. */
export function mountIn(facts: Facts | undefined, mountpoint: string): MountInfo | undefined {
  return facts ? mountAt(facts, mountpoint) : undefined;
}

/** Host mount points (this process's mount namespace) at or under dir. */
export function hostMountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => {
      const mp = l.split(' ')[4];
      return mp !== undefined && (mp === dir || mp.startsWith(dir + '/'));
    });
}

/** A refusal the way the CLI prints errors: exactly one non-empty line on stderr. */
export function oneLine(stderr: string): boolean {
  return stderr.trim() !== '' && stderr.trim().split('\n').length === 1;
}

export interface TerminalRun {
  created: Result;
  started?: Result;
  /** Everything the container wrote on its terminal (with the pty's \r\n). */
  out: string;
  /** The container had to be killed: it kept its terminal open for 20 s. */
  hung?: boolean;
}

/**
 * create --console-socket, start, and read the pty master until the container closes the slave.
 * The bundle's process.terminal must be true.
 */
export async function runWithTerminal(sb: Sandbox, bundle: string, id: string, teardown: (fn: () => void) => void): Promise<TerminalRun> {
  const shim = loadShim();
  const sock = path.join(sb.dir, `console-${id}.sock`);
  const listener = shim.consoleListen(sock);
  if (listener < 0) throw new Error(`console socket ${sock}: errno ${-listener}`);
  teardown(() => fs.closeSync(listener));
  const masterP = shim.consoleAccept(listener);
  const created = sb.tsr(['create', '--bundle', bundle, '--console-socket', sock, id]);
  if (created.status !== 0) {
    // Nobody will connect: unblock the accept with a connection of our own, then drop what it got.
    const net = await import('net');
    await new Promise<void>((resolve) => {
      const c = net.createConnection(sock, () => {
        c.end();
        resolve();
      });
      c.on('error', () => resolve());
    });
    const fd = await masterP.catch(() => -1);
    if (fd >= 0) fs.closeSync(fd);
    return { created, out: '' };
  }
  const master = await masterP;
  teardown(() => fs.closeSync(master));
  const started = sb.tsr(['start', id]);
  // Read on the thread pool so a container that never closes its terminal cannot hang the test:
  // after 20 s it is killed, which closes the slave.
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    sb.tsr(['kill', '--all', id, 'KILL']);
  }, 20_000);
  let out = '';
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = await new Promise<number>((resolve) => fs.read(master, buf, 0, buf.length, null, (err, bytes) => resolve(err ? 0 : bytes)));
    if (n === 0) break; // EIO: the slave's last holder is gone
    out += buf.subarray(0, n).toString();
  }
  clearTimeout(watchdog);
  return { created, started, out, hung };
}
