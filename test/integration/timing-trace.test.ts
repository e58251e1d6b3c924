/** --debug's per-step timing trace, in the JSON log a machine reads. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { NEEDS_ROOT, Sandbox } from '../helpers/runtime';

t.test('--debug --log-format json: each step of create, start and exec with its duration, the init\'s op groups too', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const log = path.join(sb.dir, 'log.json');
  const bundle = sb.bundle(['sleep', '30'], (s) => (s.hooks = { createRuntime: [{ path: '/bin/true' }] }));
  const debug = ['--debug', '--log-format', 'json', '--log', log];
  t.equal(sb.tsr([...debug, 'create', '--bundle', bundle, id]).status, 0);
  t.equal(sb.tsr([...debug, 'start', id]).status, 0);
  t.equal(sb.tsr([...debug, 'exec', id, 'true']).status, 0);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => l.step !== undefined);
  for (const s of steps) t.ok(typeof s.ms === 'number' && s.ms >= 0 && s.level === 'debug', `${s.step}: ${s.ms} ms`);
  const names = steps.map((s) => s.step as string);
  for (const want of [
    'load and validate config.json', 'plan', 'claim the id', 'make the cgroup and apply linux.resources',
    'container init: spawn', 'container init: setup until createRuntime', 'createRuntime hooks', 'container init: setup until ready',
    'create, since the runtime started', 'the init takes start (exec fifo)', 'start, since the runtime started',
    'exec: spawn', 'exec: setup until ready', 'exec, since the runtime started',
  ]) {
    t.ok(names.includes(want), `the trace has "${want}"`);
  }
  // The init's own op groups, timed by the init at each boundary, in the order it ran them.
  const initGroups = [
    'start-up', 'namespaces', 'wait for createRuntime hooks', 'mounts', 'devices', 'rootfs', 'process', 'exec',
  ].map((g) => `container init: ${g}`);
  t.same(names.filter((n) => initGroups.includes(n)), initGroups, 'the init\'s groups, each once, in plan order');
  const execGroups = ['start-up', 'namespaces', 'process', 'exec'].map((g) => `exec: ${g}`);
  t.same(names.filter((n) => execGroups.includes(n)), execGroups, 'the exec\'d process\'s groups');
  const line = lines.find((l) => l.step === 'container init: mounts');
  t.match(line?.msg, /^timing: container init: mounts \d+\.\d\d ms$/, 'a step a person reads too');
  const quiet = path.join(sb.dir, 'quiet.json');
  t.equal(sb.tsr(['--log-format', 'json', '--log', quiet, 'exec', id, 'true']).status, 0);
  t.notOk(fs.existsSync(quiet) && fs.readFileSync(quiet, 'utf8').includes('"step"'), 'no trace without --debug');
});
