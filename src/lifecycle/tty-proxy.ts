/**
 * The foreground terminal: when `run` or `exec -t` has no --console-socket, the runtime
 * itself sits between the caller's terminal and the container's pty. The caller's terminal is
 * put in raw mode (restored on every exit path), its window size is copied at start and on
 * SIGWINCH, input goes to the pty master and output comes back.
 */
import fs from 'fs';
import type * as Tty from 'tty';
import type { Shim } from '../native/shim';
import { writeStdout } from '../log';

export interface TtyProxy {
  /** After the process exited: drain what it wrote, restore the terminal, close the master. */
  finish(): Promise<void>;
}

export function proxyTerminal(master: number, shim: Shim): TtyProxy {
  // Required here: loading tty costs some 7 ms, and run and exec without a terminal never need it.
  const tty = require('tty') as typeof Tty;
  const stdinIsTty = tty.isatty(0);
  const stdoutIsTty = tty.isatty(1);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    if (stdinIsTty) {
      try {
        process.stdin.setRawMode(false);
      } catch {
        /* terminal gone */
      }
    }
  };
  process.on('exit', restore);

  const resize = () => {
    if (!stdoutIsTty) return;
    const [cols, rows] = (process.stdout as Tty.WriteStream).getWindowSize();
    shim.setWinsize(master, rows, cols);
  };
  resize();
  process.on('SIGWINCH', resize);

  if (stdinIsTty) process.stdin.setRawMode(true);
  const onData = (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      try {
        off += fs.writeSync(master, chunk, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') return; // the container side is gone
      }
    }
  };
  process.stdin.on('data', onData);
  // A pipe on our stdin ends: the terminal way to say so is VEOF (^D).
  process.stdin.on('end', () => onData(Buffer.from([4])));

  const reader = new Promise<void>((resolve) => {
    const buf = Buffer.alloc(65536);
    const next = () =>
      fs.read(master, buf, 0, buf.length, null, (err, n) => {
        if (err || n === 0) return resolve(); // EIO: every slave fd is closed
        writeStdout(buf.subarray(0, n));
        next();
      });
    next();
  });

  return {
    async finish() {
      // Output still in the pty after the exit; background processes may hold the slave open.
      await Promise.race([reader, new Promise((r) => setTimeout(r, 500))]);
      process.off('SIGWINCH', resize);
      process.stdin.off('data', onData);
      process.stdin.pause();
      restore();
      process.off('exit', restore);
      try {
        fs.closeSync(master);
      } catch {
        /* already closed */
      }
    },
  };
}
