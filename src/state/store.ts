/**
 * Container state under --root: one directory per container, holding state.json (written
 * atomically), the exec fifo until `start`, and a lock file that serialises commands on it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RuntimeError } from '../errors';
import { isAlive, readProcStat, sleepMs } from './proc';

export const DEFAULT_ROOT = '/run/tsruntime';
export { OCI_VERSION } from '../spec/version';

export type Status = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/** What the runtime records about a container; `status` here is the last one it set. */
export interface ContainerRecord {
  id: string;
  pid: number;
  /** /proc/PID/stat start time, to tell our init from a process that reused its pid. */
  startTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  status: 'created' | 'running';
  cgroupsPath: string;
  /** The config.json the container was created from (hooks, exec defaults). */
  config: unknown;
  systemdCgroup?: boolean;
  /** Created under NOTIFY_SOCKET: `start` relays the container's READY=1. */
  notify?: boolean;
}

const ID_PATTERN = /^[\w+\-.]+$/;

export function validateId(id: string | undefined): string {
  if (!id) throw new RuntimeError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new RuntimeError(`invalid id format: ${id}`);
  return id;
}

export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }
  fifoPath(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Claim the id: the directory's creation is the atomic test for a duplicate. */
  createDir(id: string): string {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(id);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new RuntimeError(`container with id exists: ${id}`);
      throw e;
    }
    return dir;
  }

  removeDir(id: string): void {
    fs.rmSync(this.dir(id), { recursive: true, force: true });
  }

  exists(id: string): boolean {
    return fs.existsSync(path.join(this.dir(id), 'state.json'));
  }

  load(id: string): ContainerRecord {
    validateId(id);
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new RuntimeError(`container ${id} does not exist`);
      throw e;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  save(rec: ContainerRecord): void {
    writeFileAtomic(path.join(this.dir(rec.id), 'state.json'), JSON.stringify(rec));
  }

  list(): string[] {
    try {
      return fs.readdirSync(this.root).filter((id) => this.exists(id)).sort();
    } catch {
      return [];
    }
  }

  /**
   * Run fn while holding the container's lock. The lock is a file created with O_EXCL that
   * names its holder; a holder that died without releasing it is detected and replaced.
   */
  withLock<T>(id: string, fn: () => T): T {
    const lock = path.join(this.dir(id), 'lock');
    const me = `${process.pid} ${readProcStat(process.pid)?.startTime ?? ''}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        fs.writeFileSync(lock, me, { flag: 'wx' });
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new RuntimeError(`container ${id} does not exist`);
        if (code !== 'EEXIST') throw e;
        const [pid, start] = readOr(lock, '').split(' ');
        if (pid && !isAlive(Number(pid), start)) {
          fs.rmSync(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new RuntimeError(`container ${id} is locked by process ${pid}`);
        sleepMs(5);
      }
    }
    try {
      return fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}
