/**
 * Removing state files and directories. fs.rmSync loads Node's rimraf for any path, even one file:
 * about 0.5 ms of every start, kill and delete, for what unlink and rmdir do here (small trees of
 * our own files, no symlink followed).
 */
import fs from 'fs';
import path from 'path';

const gone = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** unlink; a file already gone is fine. */
export function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if (!gone(e)) throw e;
  }
}

/** rm -rf: a file, or a directory and everything in it (symlinks removed, never followed); gone is fine. */
export function removeTree(p: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(p, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return removeFile(p);
    if (gone(e)) return;
    throw e;
  }
  for (const entry of entries) {
    const child = path.join(p, entry.name);
    if (entry.isDirectory()) removeTree(child);
    else removeFile(child);
  }
  try {
    fs.rmdirSync(p);
  } catch (e) {
    if (!gone(e)) throw e;
  }
}
