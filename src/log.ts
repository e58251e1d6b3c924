/**
 * Runtime logging, runc-style: messages go to --log (stderr when absent) as text or, with
 * --log-format json, one JSON object per line ({"level","msg","time"}), which containerd and
 * Podman read to show the cause of a failure. Writes are synchronous and never go through
 * process.stderr: a container may share our stderr, and libuv would set O_NONBLOCK on it, so the
 * container's own writes could fail with EAGAIN.
 */
import * as fs from 'fs';

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

  private write(level: Level, msg: string): void {
    const time = new Date().toISOString();
    const line =
      this.opts.format === 'json'
        ? JSON.stringify({ level, msg, time }) + '\n'
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
