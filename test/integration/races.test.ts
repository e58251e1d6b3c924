/**
 * Races on one container id: concurrent creates (exactly one wins, the others change nothing),
 * concurrent `delete --force` (all succeed, nothing left), and `delete --force` racing a create
 * in progress (it waits for the create, then deletes what it made).
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawn } from 'child_process';
import { BIN, Sandbox, leftovers } from '../helpers/runtime';
import { removeContainerCgroups } from '../helpers/leftover-cleanup';

const skip = process.getuid?.() !== 0 ? 'needs root: containers' : false;

interface Done {
  code: number;
  stderr: string;
  /** Order of completion among the commands of one race. */
  order: number;
}

let finished = 0;
/** Run the CLI without waiting; stdio goes to files (a container may keep its copy open). */
function launch(sb: Sandbox, args: string[]): Promise<Done> {
  const errFile = path.join(sb.dir, `race-err-${process.hrtime.bigint()}`);
  const errFd = fs.openSync(errFile, 'w');
  const child = spawn(BIN, ['--root', sb.root, ...args], { stdio: ['ignore', 'ignore', errFd] });
  fs.closeSync(errFd);
  return new Promise((resolve) =>
    child.on('exit', (code, sig) => {
      const stderr = fs.readFileSync(errFile, 'utf8');
      fs.rmSync(errFile);
      resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stderr, order: ++finished });
    }),
  );
}

function underRoot(sb: Sandbox): string[] {
  return fs.existsSync(sb.root) ? fs.readdirSync(sb.root) : [];
}

function scrubAtTeardown(t: { teardown(fn: () => void): void }, ids: string[]): void {
  t.teardown(() => ids.forEach(removeContainerCgroups));
}

t.test('10 concurrent creates of one id: one winner; then 10 concurrent delete --force: all succeed, nothing left', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const ids: string[] = [];
  scrubAtTeardown(t, ids);
  const bundle = sb.bundle(['sleep', '300']);
  for (let round = 0; round < 3; round++) {
    const id = sb.id();
    ids.push(id);
    const creates = await Promise.all(Array.from({ length: 10 }, () => launch(sb, ['create', '--bundle', bundle, id])));
    const winners = creates.filter((r) => r.code === 0);
    t.equal(winners.length, 1, `round ${round}: exactly one create wins`);
    const losers = creates.filter((r) => r.code !== 0);
    t.same(losers.filter((r) => !new RegExp(`^tsruntime: container with id exists: ${id}\\n$`).test(r.stderr)).map((r) => r.stderr), [], `round ${round}: the others fail with "container with id exists"`);
    t.equal(sb.state(id).status, 'created', `round ${round}: the winner's container is intact`);
    t.same(underRoot(sb), [id], `round ${round}: nothing but the container under --root`);

    const deletes = await Promise.all(Array.from({ length: 10 }, () => launch(sb, ['delete', '--force', id])));
    t.same(deletes.filter((r) => r.code !== 0).map((r) => r.stderr.trim()), [], `round ${round}: every delete --force exits 0`);
    t.same([...leftovers(sb, id, bundle), ...underRoot(sb)], [], `round ${round}: nothing left`);
  }
});

t.test('delete --force during a create waits for it, then deletes the container', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const ids: string[] = [];
  scrubAtTeardown(t, ids);
  const at = path.join(sb.dir, 'at-hook');
  const go = path.join(sb.dir, 'go');
  // A createRuntime hook holds the create in the middle (the init exists, its namespaces too).
  const bundle = sb.bundle(['sleep', '300'], (spec) => {
    spec.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${at}; while [ ! -e ${go} ]; do sleep 0.01; done`] }] };
  });
  const id = sb.id();
  ids.push(id);
  const create = launch(sb, ['create', '--bundle', bundle, id]);
  for (let i = 0; i < 1000 && !fs.existsSync(at); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(fs.existsSync(at), 'create is in its createRuntime hook');

  const st = sb.tsr(['state', id]);
  t.equal(st.status, 0, `state during create: ${st.stderr.trim()}`);
  t.equal(JSON.parse(st.stdout || '{}').status, 'creating', 'state says creating');
  const list = sb.tsr(['list', '--format', 'json']);
  t.same((JSON.parse(list.stdout || '[]') as Array<{ id: string; status: string }>).map((c) => [c.id, c.status]), [[id, 'creating']], 'list says creating');
  const kill = sb.tsr(['kill', id, 'KILL']);
  t.not(kill.status, 0, 'kill of a container being created fails');
  t.match(kill.stderr, /being created/, kill.stderr.trim());
  const exec = sb.tsr(['exec', id, 'true']);
  t.not(exec.status, 0, 'exec in a container being created fails');
  t.match(exec.stderr, /being created/, exec.stderr.trim());

  const del = launch(sb, ['delete', '--force', id]);
  // Give the delete time to get going: it must wait for the create, whatever the delay.
  await new Promise((r) => setTimeout(r, 200));
  fs.writeFileSync(go, '');
  const [c, d] = await Promise.all([create, del]);
  t.equal(c.code, 0, `create succeeded: ${c.stderr.trim()}`);
  t.equal(d.code, 0, `delete --force succeeded: ${d.stderr.trim()}`);
  t.ok(d.order > c.order, 'delete --force finished after the create it waited for');
  t.same([...leftovers(sb, id, bundle), ...underRoot(sb)], [], 'nothing left');
});

t.test('delete --force racing create at random points: both succeed, the result is consistent', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const ids: string[] = [];
  scrubAtTeardown(t, ids);
  const bundle = sb.bundle(['sleep', '300']);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 12; i++) {
    const id = sb.id();
    ids.push(id);
    const create = launch(sb, ['create', '--bundle', bundle, id]);
    await new Promise((r) => setTimeout(r, i * 8));
    const [c, d] = await Promise.all([create, launch(sb, ['delete', '--force', id])]);
    t.equal(c.code, 0, `create: ${c.stderr.trim()}`);
    t.equal(d.code, 0, `delete --force: ${d.stderr.trim()}`);
    const st = sb.tsr(['state', id]);
    // Either the delete came first (nothing to delete yet: the container stays) or it deleted it.
    const outcome = st.status === 0 ? JSON.parse(st.stdout).status : 'deleted';
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    t.ok(outcome === 'created' || outcome === 'deleted', `consistent outcome: ${outcome}`);
    const fin = sb.tsr(['delete', '--force', id]);
    t.equal(fin.status, 0, fin.stderr.trim());
    t.same([...leftovers(sb, id, bundle), ...underRoot(sb)], [], 'nothing left');
  }
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
});

t.test('10 concurrent delete --force of a container whose create was killed holding its lock', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const ids: string[] = [];
  scrubAtTeardown(t, ids);
  // The createContainer hook kills the runtime: the record says "creating", the lock names a dead process.
  const bundle = sb.bundle(['sleep', '300'], (spec) => {
    spec.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'kill -9 $PPID; sleep 5'] }] };
  });
  for (let round = 0; round < 3; round++) {
    const id = sb.id();
    ids.push(id);
    const c = await launch(sb, ['create', '--bundle', bundle, id]);
    t.equal(c.code, 137, `round ${round}: create was killed`);
    const deletes = await Promise.all(Array.from({ length: 10 }, () => launch(sb, ['delete', '--force', id])));
    t.same(deletes.filter((r) => r.code !== 0).map((r) => r.stderr.trim()), [], `round ${round}: every delete --force exits 0`);
    t.same([...leftovers(sb, id, bundle), ...underRoot(sb)], [], `round ${round}: nothing left`);
  }
});
