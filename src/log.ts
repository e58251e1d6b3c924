/**
 * Runtime logging, runc-style: messages go to --log (stderr when absent) as text or, with
 * --log-format json, one JSON object per line ({"level","msg","time"}), which containerd and
 * Podman read to show the cause of a failure. Writes are synchronous and never go through
 * process.stderr: a container may share our stderr, and libuv would set O_NONBLOCK on it, so the
 * container's own writes could fail with EAGAIN.
 */
import fs from 'fs';
import { isoTime } from './iso-time';

export type Level = 'debug' | 'info' | 'warning' | 'error';

export interface LogOptions {
  file?: string;
  format?: 'text' | 'json';
  debug?: boolean;
}

export class Logger {
  private fd: number | undefined;
  constructor(private readonly opts: LogOptions = {}) {}

  debug(msg: string): void {
    if (this.opts.debug) this.write('debug', msg);
  }

  /** Whether --debug is on (timings are measured only then). */
  get tracing(): boolean {
    return Boolean(this.opts.debug);
  }

  /**
   * --debug's timing trace: run fn and log how long it took ("timing: plan 2.31 ms"; in JSON,
   * with "step" and "ms" fields a machine can read).
   */
  step<T>(name: string, fn: () => T): T {
    if (!this.opts.debug) return fn();
    const t0 = process.hrtime.bigint();
    try {
      return fn();
    } finally {
      this.timing(name, t0);
    }
  }

  /** Log the time since t0 (process.hrtime.bigint()) as step `name`. */
  timing(name: string, t0: bigint): void {
    if (this.opts.debug) this.duration(name, process.hrtime.bigint() - t0);
  }

  /** Log a duration measured elsewhere (the init's own clock readings) as step `name`. */
  duration(name: string, ns: bigint): void {
    if (!this.opts.debug) return;
    const ms = Number(ns) / 1e6;
    this.write('debug', `timing: ${name} ${ms.toFixed(2)} ms`, { step: name, ms: Number(ms.toFixed(3)) });
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warning', msg);
  }
  /**
   * An error the command ends with: to the log file when there is one, and always as one
   * line on stderr, where a person running the command looks.
   */
  error(msg: string): void {
    if (this.opts.file) this.write('error', msg);
    writeStderr(`tsruntime: ${msg.replace(/\n/g, '\ntsruntime: ')}\n`);
  }

  private write(level: Level, msg: string, fields?: Record<string, unknown>): void {
    const time = isoTime();
    const line =
      this.opts.format === 'json'
        ? JSON.stringify({ level, msg, time, ...fields }) + '\n'
        : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (!this.opts.file) {
      if (level !== 'error') writeStderr(line);
      return;
    }
    try {
      if (this.fd === undefined) this.fd = fs.openSync(this.opts.file, 'a', 0o644);
      fs.writeSync(this.fd, line);
    } catch {
      writeStderr(line);
    }
  }
}

export function writeStderr(text: string): void {
  try {
    fs.writeSync(2, text);
  } catch {
    /* stderr closed: nothing better to do */
  }
}

export function writeStdout(text: string | Buffer): void {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}
