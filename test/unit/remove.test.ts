/** The state's own rm and rm -rf (src/state/remove.ts): gone is fine, symlinks are never followed. */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { removeFile, removeTree } from '../../src/state/remove';

function tmpdir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-remove-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('removeFile removes a file; a missing one is fine; a directory is an error', async (t) => {
  const dir = tmpdir(t);
  const f = path.join(dir, 'f');
  fs.writeFileSync(f, 'x');
  removeFile(f);
  t.notOk(fs.existsSync(f), 'removed');
  t.doesNotThrow(() => removeFile(f), 'already gone');
  fs.mkdirSync(path.join(dir, 'd'));
  t.throws(() => removeFile(path.join(dir, 'd')), { code: 'EISDIR' }, 'a directory is not a file');
});

t.test('removeTree removes a tree, and the links in it without following them', async (t) => {
  const dir = tmpdir(t);
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'keep'), 'keep');
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(path.join(tree, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'a', 'b', 'file'), 'x');
  fs.writeFileSync(path.join(tree, 'top'), 'x');
  fs.symlinkSync(outside, path.join(tree, 'a', 'to-outside'));
  fs.symlinkSync(path.join(outside, 'keep'), path.join(tree, 'to-keep'));
  removeTree(tree);
  t.notOk(fs.existsSync(tree), 'the tree is gone');
  t.equal(fs.readFileSync(path.join(outside, 'keep'), 'utf8'), 'keep', 'what its links pointed to is untouched');
  t.doesNotThrow(() => removeTree(tree), 'already gone');
  const file = path.join(dir, 'plain');
  fs.writeFileSync(file, 'x');
  removeTree(file);
  t.notOk(fs.existsSync(file), 'a plain file is removed too');
});
