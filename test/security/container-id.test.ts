/**
 * Container ids name a directory (the state dir under --root, the default cgroup): a path
 * component, at most 255 bytes. A longer id must be refused with a clear one-line error before
 * anything is made, by every command, and an id at the limit must work.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { Sandbox, leftovers } from '../helpers/runtime';

const skip = process.getuid?.() !== 0 ? 'needs root: containers' : false;

t.test('ids longer than 255 characters are refused before anything is made', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  for (const n of [256, 300, 1024]) {
    const id = `long-${process.pid}-`.padEnd(n, 'x');
    for (const args of [['create', '--bundle', bundle, id], ['run', '--bundle', bundle, id], ['state', id], ['kill', id], ['start', id], ['delete', id], ['delete', '--force', id], ['exec', id, 'true']]) {
      const r = sb.tsr(args);
      t.equal(r.status, 1, `${args[0]} with a ${n}-character id fails`);
      t.match(r.stderr, /^tsruntime: invalid container id: \d+ characters, more than the limit of 255\n$/, `${args[0]}: one clear line (${r.stderr.slice(0, 120)})`);
      t.notMatch(r.stderr, /internal error|ENAMETOOLONG/);
    }
    t.same(leftovers(sb, id.slice(0, 255), bundle), [], `nothing left for the ${n}-character id`);
    t.same(fs.existsSync(sb.root) ? fs.readdirSync(sb.root) : [], [], 'nothing under --root');
  }
});

t.test('an id of exactly 255 characters works', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const id = sb.id().padEnd(255, 'y');
  t.teardown(() => sb.tsr(['delete', '--force', id]));
  const c = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(c.status, 0, `create: ${c.stderr}`);
  t.equal(sb.state(id).status, 'created');
  t.equal(sb.tsr(['start', id]).status, 0, 'start');
  t.equal(sb.state(id).status, 'running');
  const d = sb.tsr(['delete', '--force', id]);
  t.equal(d.status, 0, `delete --force: ${d.stderr}`);
  t.same(leftovers(sb, id, bundle), [], 'nothing left');
  t.notOk(fs.existsSync(path.join(sb.root, id)));
});
