/**
 * Container state under --root: one directory per container, named by its id, holding
 * state.json (written atomically), the exec fifo until `start`, and the lock that serialises the
 * commands that change it (lock.ts).
 *
 * A container directory never exists without a record in it: `create` claims an id by making the
 * directory under a temporary name with its lock held and a first record ("creating") inside,
 * then renaming it into place (the rename is the atomic test for a duplicate id), and `delete`
 * renames it out of the way, under the lock, before removing it. Temporary entries start with
 * '@', which no id can contain, and carry their owner's pid and start time, so no two processes
 * ever share one: those of dead owners are removed by the next delete (gc()). Not by create: the
 * cost of a create must not grow with the number of containers under --root.
 */
import fs from 'fs';
import path from 'path';
import { ContainerExistsError, ContainerNotFoundError, ContainerStateError, errnoText, InvalidArgumentError, RuntimeError } from '../errors';
import { identityAlive, isAlive, selfIdentity } from './proc';
import { ContainerGone, Lock, LockFiles } from './lock';
import { removeTree } from './remove';
import type { FreezerFile } from '../cgroups/frozen';

export { ContainerGone, Lock };

export const DEFAULT_ROOT = '/run/tsruntime';
export { OCI_VERSION } from '../spec/version';

export type Status = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

/** What the runtime records about a container; `status` here is the last one it set. */
export interface ContainerRecord {
  id: string;
  /** The init's host pid; 0 while `create` has not cloned it yet. */
  pid: number;
  /** /proc/PID/stat start time, to tell our init from a process that reused its pid ('' until known). */
  startTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /**
   * 'creating' until `create` has finished: then the container is half-made if its creator is
   * gone. 'created' once it has ('running' in records of versions whose start rewrote it): only
   * 'creating' is ever read, as a status is computed (src/lifecycle/status.ts).
   */
  status: 'creating' | 'created' | 'running';
  /** "pid starttime" of the `create` that makes the container (while status is 'creating'). */
  creator?: string;
  cgroupsPath: string;
  /** The config.json the container was created from (hooks, exec defaults). */
  config: unknown;
  systemdCgroup?: boolean;
  /** Created under NOTIFY_SOCKET: `start` relays the container's READY=1. */
  notify?: boolean;
  /** Created by a runtime without real root. */
  rootless?: boolean;
  /** Created without a cgroup (rootless, with none it could make): why. */
  noCgroup?: string;
  /** Where the container's cgroup says it is frozen (status reads only this file). */
  freezer?: FreezerFile;
  /** The cgroup's directories, when removing them is all its driver does (CgroupManager.dirsToRemove()). */
  cgroupDirs?: readonly string[];
}

const ID_PATTERN = /^[\w+\-.]+$/;
/**
 * An id names a directory (the state dir under --root, the default cgroup <parent>/<id>): one
 * path component, which Linux limits to 255 bytes (NAME_MAX). Ids are ASCII, so 255 characters.
 */
export const MAX_ID_LENGTH = 255;

export function validateId(id: string | undefined): string {
  if (!id) throw new InvalidArgumentError('container id cannot be empty');
  if (id.length > MAX_ID_LENGTH) throw new InvalidArgumentError(`invalid container id: ${id.length} characters, more than the limit of ${MAX_ID_LENGTH}`);
  if (!ID_PATTERN.test(id) || id === '.' || id === '..') throw new InvalidArgumentError(`invalid id format: ${id}`);
  return id;
}

function isId(name: string): boolean {
  return name.length <= MAX_ID_LENGTH && ID_PATTERN.test(name) && name !== '.' && name !== '..';
}

/** Temporary entries under --root: "@<kind>.<owner pid>.<owner start time>[.<n>]". */
const TEMP_ENTRY = /^@(?:lock|new|del)\.(\d+)\.(\d+)(?:\.\d+)?$/;

let seq = 0;

export class StateStore {
  private files: LockFiles | undefined;

  constructor(readonly root: string) {}

  dir(id: string): string {
    return path.join(this.root, validateId(id));
  }
  fifoPath(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Whether the container has a record. */
  exists(id: string): boolean {
    return fs.existsSync(path.join(this.dir(id), 'state.json'));
  }

  /**
   * The record. A container that a live `create` is still making is refused ("is being created")
   * unless the caller can handle it (state, list, kill, delete): it may have no init yet (pid 0),
   * and exec, start, pause and the like must not act on it. Once its create is gone it is a
   * half-made container, and loads: its status is "stopped".
   */
  load(id: string, opts: { creating?: boolean } = {}): ContainerRecord {
    const rec = this.tryLoad(id);
    if (!rec) throw new ContainerNotFoundError(id);
    if (rec.status === 'creating' && !opts.creating && identityAlive(rec.creator)) throw new ContainerStateError(`container ${id} is being created`, id, 'creating');
    return rec;
  }

  /** The record, or undefined when there is none. */
  tryLoad(id: string): ContainerRecord | undefined {
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.dir(id), 'state.json'), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  /** Write the record; only the holder of the container's lock does. */
  save(rec: ContainerRecord): void {
    writeFileAtomic(path.join(this.dir(rec.id), 'state.json'), JSON.stringify(rec));
  }

  list(): string[] {
    try {
      return fs.readdirSync(this.root).filter((name) => isId(name) && this.exists(name)).sort();
    } catch {
      return [];
    }
  }

  /**
   * Claim rec.id for a new container: its directory appears, atomically, with rec in it and its
   * lock held by us; the caller releases the lock when create is done, or removes the directory
   * through it. Throws "container with id exists" if the id is taken.
   */
  claim(rec: ContainerRecord): Lock {
    const dir = this.dir(rec.id);
    // The one call that may find no root yet: every other takes a lock in a directory under it.
    this.writable('create the state root', () => fs.mkdirSync(this.root, { recursive: true, mode: 0o700 }));
    const files = this.lockFiles();
    const tmp = this.tempName('new');
    this.writable(`create the state of container ${rec.id}`, () => fs.mkdirSync(tmp, { mode: 0o711 }));
    try {
      files.linkInto(tmp, 'lock');
      fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(rec), { mode: 0o600 });
      try {
        fs.renameSync(tmp, dir);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
          throw new ContainerExistsError(rec.id);
        }
        throw e;
      }
    } catch (e) {
      removeTree(tmp);
      files.done();
      throw e;
    }
    return new Lock(files, dir, rec.id, () => this.tempName('del'));
  }

  /**
   * Take the container's lock, waiting for a live holder (up to 30 s) and taking over from a dead
   * one. Throws "container <id> does not exist" when its directory is gone.
   */
  lock(id: string): Lock {
    const dir = this.dir(id);
    if (!fs.existsSync(dir)) throw new ContainerGone(id);
    return Lock.acquire(this.lockFiles(), dir, id, () => this.tempName('del'));
  }

  /** Run fn while holding the container's lock (see lock()); fn may remove the container through it. */
  withLock<T>(id: string, fn: (lock: Lock) => T): T {
    const lock = this.lock(id);
    try {
      return fn(lock);
    } finally {
      lock.release();
    }
  }

  /** Remove the temporary entries of processes that died before they could (best effort). */
  gc(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch {
      return;
    }
    for (const name of names) {
      const m = TEMP_ENTRY.exec(name);
      if (!m || isAlive(Number(m[1]), m[2])) continue;
      try {
        removeTree(path.join(this.root, name));
      } catch {
        /* another process is removing it too */
      }
    }
  }

  private lockFiles(): LockFiles {
    if (!this.files) {
      this.files = new LockFiles(path.join(this.root, `@lock.${selfIdentity().replace(' ', '.')}`));
    }
    return this.files;
  }

  /**
   * Run a write under --root; a refusal says whose directory it is and what to do (a rootless
   * caller's default root is /run/tsruntime when XDG_RUNTIME_DIR is unset).
   */
  private writable<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
      const euid = process.geteuid?.() ?? 0;
      const fix = euid !== 0
        ? `tsruntime runs as uid ${euid}, which may not write there: set XDG_RUNTIME_DIR (the default root is then $XDG_RUNTIME_DIR/tsruntime) or pass --root with a directory this user can write`
        : 'check the permissions of --root, or pass another';
      throw new RuntimeError(`${doing} in ${this.root}: ${errnoText(code)}: ${fix}`);
    }
  }

  private tempName(kind: 'new' | 'del'): string {
    return path.join(this.root, `@${kind}.${selfIdentity().replace(' ', '.')}.${++seq}`);
  }
}

export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}
