/**
 * Start-up cost: what each command loads. Every container operation of a client is a fresh Node
 * process, so modules a command does not need are time on every call.
 */
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { PROJECT, Sandbox, NEEDS_ROOT } from '../helpers/runtime';

const ENTRY = path.join(PROJECT, 'dist', 'src', 'cli', 'entry.js');

/** Node's built-in modules a command loaded (process.moduleLoadList), after a real call. */
function builtinsLoaded(sb: Sandbox, args: string[]): { status: number; builtins: string[]; stderr: string } {
  const probe = path.join(sb.dir, 'probe.js');
  const report = path.join(sb.dir, 'builtins.json');
  fs.writeFileSync(
    probe,
    `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)},
      JSON.stringify(process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)))));`,
  );
  fs.rmSync(report, { force: true });
  // Files, not pipes: a created container's init inherits the runtime's stdio.
  const out = fs.openSync(path.join(sb.dir, 'out'), 'w');
  const err = path.join(sb.dir, 'err');
  const errFd = fs.openSync(err, 'w');
  // As bin/tsruntime runs node: without NODE_OPTIONS or NODE_EXTRA_CA_CERTS. Through env(1): the
  // test runner puts its own hooks back into the NODE_OPTIONS of every node it sees spawned.
  const node = ['env', '-u', 'NODE_OPTIONS', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath];
  const r = spawnSync(node[0], [...node.slice(1), '-r', probe, ENTRY, '--root', sb.root, ...args], { stdio: ['ignore', out, errFd], timeout: 30_000 });
  fs.closeSync(out);
  fs.closeSync(errFd);
  return { status: r.status ?? -1, builtins: JSON.parse(fs.readFileSync(report, 'utf8')), stderr: fs.readFileSync(err, 'utf8') };
}

t.test('no command of a container lifecycle loads https, crypto or zlib (koffi without its downloader)', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const calls = [
    ['create', '--bundle', sb.bundle(['sleep', '300']), id],
    ['state', id],
    ['start', id],
    ['exec', id, 'true'],
    ['list'],
    ['kill', id, 'KILL'],
    ['delete', '--force', id],
    ['run', '--bundle', sb.bundle(['true']), sb.id()],
  ];
  for (const args of calls) {
    const r = builtinsLoaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.same(r.builtins.filter((m) => /^(https|crypto|zlib)$/.test(m)), [], `${args[0]} loads none of https, crypto, zlib`);
  }
});
