/**
 * The per-container lock: the file <state dir>/lock, a hard link of the holder's identity file
 * (<root>/@lock.<pid>.<start time>, whose content is "pid starttime"). Taking it is link(2), which
 * fails with EEXIST while someone holds it, and the file is complete the moment it appears.
 *
 * A holder that died (kill -9) leaves its lock behind. To take over, a waiter must remove that
 * lock and only that one: two waiters removing "the" stale lock could remove each other's fresh
 * one. So removing the lock of a dead holder X needs a ticket, the link <state dir>/lock~X, which
 * only one waiter can make; the ticket's holder checks that `lock` still names X, removes it, then
 * the ticket. A ticket whose holder died is removed the same way, with a ticket of its own.
 *
 * Invariant: a directory at <root>/<id> that holds our lock stays there until we move it
 * (`delete` renames the directory away under its lock before removing it). Each link we make is
 * checked to have landed in the directory that is at <root>/<id> now, not in one renamed away
 * meanwhile.
 */
import fs from 'fs';
import path from 'path';
import { ContainerNotFoundError, RuntimeError } from '../errors';
import { identityAlive, selfIdentity, sleepMs } from './proc';
import { removeFile, removeTree } from './remove';

const WAIT_MS = 30_000;

/** The container's directory is gone (deleted meanwhile, or never made). */
export class ContainerGone extends ContainerNotFoundError {}

type Linked = 'ok' | 'exists' | 'nodir' | 'moved';

/** Our identity file, made on first use and removed when no lock of ours needs it. */
export class LockFiles {
  private users = 0;
  /** What our identity file holds ("pid starttime": no other process's is the same), once made. */
  private identity: string | undefined;

  constructor(readonly identityPath: string) {}

  use(): void {
    this.users++;
    if (this.identity === undefined) this.remake();
  }

  private remake(): void {
    // Written before any link to it exists: no one can read it half-written. Never rewritten.
    const identity = selfIdentity();
    try {
      fs.writeFileSync(this.identityPath, identity, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    this.identity = identity;
  }

  done(): void {
    if (--this.users > 0) return;
    this.users = 0;
    this.identity = undefined;
    removeFile(this.identityPath);
  }

  /** link(identity, dir/name) for a directory only we can see (claim); counts a user. */
  linkInto(dir: string, name: string): void {
    this.use();
    fs.linkSync(this.identityPath, path.join(dir, name));
  }

  /** link(identity, dir/name), checked to be in the directory at `dir` now. */
  link(dir: string, name: string): Linked {
    const target = path.join(dir, name);
    try {
      fs.linkSync(this.identityPath, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return 'exists';
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (!fs.existsSync(dir)) return 'nodir';
        if (!fs.existsSync(this.identityPath)) this.remake();
        return 'moved';
      }
      throw e;
    }
    // Ours if it holds our identity: the same test as its inode being our file's, without
    // fs.statSync, whose Stats V8 compiles on its first use in every process (about 0.2 ms).
    return readOr(target) === this.identity ? 'ok' : 'moved';
  }
}

export class Lock {
  private held = true;

  constructor(
    private readonly files: LockFiles,
    readonly dir: string,
    readonly id: string,
    private readonly trashName: () => string,
  ) {}

  static acquire(files: LockFiles, dir: string, id: string, trashName: () => string): Lock {
    files.use();
    try {
      const deadline = Date.now() + WAIT_MS;
      for (let i = 0; ; i++) {
        const got = files.link(dir, 'lock');
        if (got === 'ok') return new Lock(files, dir, id, trashName);
        if (got === 'nodir') throw new ContainerGone(id);
        const holder = got === 'exists' ? readOr(path.join(dir, 'lock')) : undefined;
        if (holder !== undefined && !identityAlive(holder)) {
          breakStale(files, dir, 'lock', holder);
          continue;
        }
        if (Date.now() > deadline) throw new RuntimeError(`container ${id} is locked by process ${(holder ?? '?').split(' ')[0]}`);
        // A live holder: wait. A lock released, or a directory moved, meanwhile: look again at once.
        if (holder !== undefined) sleepMs(i < 20 ? 1 : 5);
      }
    } catch (e) {
      files.done();
      throw e;
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    removeFile(path.join(this.dir, 'lock'));
    this.files.done();
  }

  /**
   * Remove the container's directory, lock and all: renamed out of the way first (atomically, so
   * no one can find it half-removed or lock it again), then removed. Releases the lock.
   */
  removeDir(): void {
    if (!this.held) throw new Error(`removeDir of ${this.dir} without its lock`);
    const trash = this.trashName();
    fs.renameSync(this.dir, trash);
    this.held = false;
    this.files.done();
    removeTrash(trash);
  }
}

/** Remove the lock file `name` in dir, which names `dead`, a holder that no longer runs. */
function breakStale(files: LockFiles, dir: string, name: string, dead: string): void {
  // Named after the dead holder (its "pid starttime"; anything else in the file made harmless).
  const ticket = `${name}~${dead.trim().replace(/\s+/g, '-').replace(/[^\w-]/g, '_').slice(0, 40)}`;
  const got = files.link(dir, ticket);
  if (got === 'ok') {
    try {
      if (readOr(path.join(dir, name)) === dead) removeFile(path.join(dir, name));
    } finally {
      removeFile(path.join(dir, ticket));
    }
    return;
  }
  if (got !== 'exists') return; // the directory moved or went: the caller looks again
  const owner = readOr(path.join(dir, ticket));
  if (owner !== undefined && !identityAlive(owner)) breakStale(files, dir, ticket, owner);
  else sleepMs(1);
}

/**
 * rm -rf of a directory nobody else can reach any more. A process that resolved its path just
 * before it was renamed may still add one entry (a lock link) while we remove it: try again.
 */
function removeTrash(dir: string): void {
  for (let i = 0; i < 50; i++) {
    try {
      removeTree(dir);
      return;
    } catch {
      sleepMs(1);
    }
  }
  // Left for the next create or delete to collect (its owner, us, will be dead by then).
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
