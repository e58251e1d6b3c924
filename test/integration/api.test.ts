/**
 * The library API (`import ... from 'tsruntime'`), end to end with a real container and no CLI
 * call: create, list, start, exec, pause/resume, update, stats/events, kill, delete, features, and
 * the typed errors, whose messages must be the ones the CLI prints for the same failure.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import {
  create,
  start,
  state,
  kill,
  remove,
  exec,
  pause,
  resume,
  update,
  stats,
  events,
  list,
  features,
  OCI_VERSION,
  RuntimeError,
  ContainerNotFoundError,
  ContainerExistsError,
  ContainerStateError,
  InvalidConfigError,
  UnsupportedError,
  type State,
  type ContainerEvent,
} from 'tsruntime';
import * as api from 'tsruntime';
import { NEEDS_ROOT, Sandbox, leftovers } from '../helpers/runtime';
import { isRunning, until } from '../helpers/wait';

/** The CLI's message for a failure: its stderr without the "tsruntime: " prefix. */
function cliMessage(stderr: string): string {
  return stderr.replace(/^tsruntime: /gm, '').trimEnd();
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('features, without a container', async (t) => {
  const f = await features();
  t.equal(f.ociVersionMax, OCI_VERSION);
  t.ok(f.linux.namespaces.includes('pid'), 'namespaces listed');
  t.ok(f.linux.capabilities.includes('CAP_SYS_ADMIN'), 'capabilities listed');
  t.equal(typeof api.delete, 'function', 'delete is exported under its own name too');
});

t.test('typed errors carry the message the CLI prints', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const root = sb.root;
  const missing = sb.id('missing');

  const notFound = await rejection(state(missing, { root }));
  t.ok(notFound instanceof ContainerNotFoundError, `state of a missing id: ContainerNotFoundError (${notFound})`);
  t.ok(notFound instanceof RuntimeError, 'every error is a RuntimeError');
  t.equal((notFound as ContainerNotFoundError).id, missing, 'the error names the id');
  t.equal((notFound as Error).message, cliMessage(sb.tsr(['state', missing]).stderr), 'same message as `state`');
  for (const [name, p, argv] of [
    ['kill', kill(missing, { root }), ['kill', missing]],
    ['delete', remove(missing, { root }), ['delete', missing]],
    ['start', start(missing, { root }), ['start', missing]],
  ] as const) {
    const e = await rejection(p);
    t.ok(e instanceof ContainerNotFoundError, `${name} of a missing id: ContainerNotFoundError (${e})`);
    t.equal((e as Error).message, cliMessage(sb.tsr([...argv]).stderr), `same message as \`${name}\``);
  }
  await t.resolves(remove(missing, { root, force: true }), 'delete --force of a missing id succeeds');

  const id = sb.id();
  const bundle = sb.bundle(['true'], (s) => (s.process.args = []));
  const invalid = await rejection(create(id, { root, bundle }));
  t.ok(invalid instanceof InvalidConfigError, `invalid config: InvalidConfigError (${invalid})`);
  t.equal((invalid as Error).message, 'config.json: /process/args: must NOT have fewer than 1 items');
  t.same((invalid as InvalidConfigError).problems, ['config.json: /process/args: must NOT have fewer than 1 items']);
  t.equal((invalid as Error).message, cliMessage(sb.tsr(['create', '--bundle', bundle, id]).stderr), 'same message as `create`');
  t.notOk(fs.existsSync(path.join(root, id)), 'no state left by the failed create');

  const noBundle = await rejection(create(id, { root, bundle: path.join(sb.dir, 'no-such-bundle') }));
  t.ok(noBundle instanceof InvalidConfigError, `a missing bundle: InvalidConfigError (${noBundle})`);
});

t.test('a container from create to delete, through the API alone', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const root = sb.root;
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300']);
  const pidFile = path.join(sb.dir, 'init.pid');

  const created: State = await create(id, { root, bundle, pidFile });
  t.equal(created.status, 'created');
  t.equal(created.id, id);
  t.equal(created.ociVersion, OCI_VERSION);
  t.equal(created.bundle, fs.realpathSync(bundle));
  t.ok(created.pid > 0, 'the init has a pid');
  t.equal(fs.readFileSync(pidFile, 'utf8'), String(created.pid), 'pid file written');
  t.same(await state(id, { root }), created, 'state agrees');

  const exists = await rejection(create(id, { root, bundle }));
  t.ok(exists instanceof ContainerExistsError, `create with a taken id: ContainerExistsError (${exists})`);
  t.equal((exists as Error).message, `container with id exists: ${id}`);

  const rows = await list({ root });
  t.same(rows.map((r) => [r.id, r.status, r.pid]), [[id, 'created', created.pid]], 'list has one row, created');

  const running = await start(id, { root });
  t.equal(running.status, 'running', 'start resolves to the running state');
  t.equal((await state(id, { root })).status, 'running');
  const again = await rejection(start(id, { root }));
  t.ok(again instanceof ContainerStateError, `second start: ContainerStateError (${again})`);
  t.equal((again as Error).message, 'cannot start an already running container');
  t.equal((again as ContainerStateError).status, 'running');

  // exec: the process shares our stdio, so it says nothing; it leaves a file and an exit code.
  const ran = await exec(id, { root, args: ['sh', '-c', 'echo "$0" > /dev/shm/api-exec; exit 7', 'from-exec'] });
  t.same(ran, { exitCode: 7 }, 'exec resolves to the exit code');
  t.equal(fs.readFileSync(`/proc/${created.pid}/root/dev/shm/api-exec`, 'utf8'), 'from-exec\n', 'the exec ran inside the container');
  const detached = await exec(id, { root, args: ['sleep', '300'], detach: true });
  t.ok(detached.pid > 0 && isRunning(detached.pid), `a detached exec resolves to a running pid (${detached.pid})`);

  await pause(id, { root });
  t.equal((await state(id, { root })).status, 'paused', 'paused');
  const execPaused = await rejection(exec(id, { root, args: ['true'] }));
  t.ok(execPaused instanceof RuntimeError, `exec in a paused container fails (${execPaused})`);
  await resume(id, { root });
  t.equal((await state(id, { root })).status, 'running', 'resumed');
  const notPaused = await rejection(resume(id, { root }));
  t.ok(notPaused instanceof ContainerStateError, `resume of a running container: ContainerStateError (${notPaused})`);
  t.equal((notPaused as Error).message, cliMessage(sb.tsr(['resume', id]).stderr), 'same message as `resume`');

  await t.resolves(update(id, { pids: { limit: 100 } }, { root }), 'update pids.limit');
  const devices = await rejection(update(id, { devices: [{ allow: true, access: 'r' }] }, { root }));
  t.ok(devices instanceof UnsupportedError, `update of devices: UnsupportedError (${devices})`);

  const usage = await stats(id, { root });
  t.type(usage, 'object', 'stats resolves to an object');
  t.ok(Object.keys(usage).length > 0, `stats has data (${Object.keys(usage).join(', ')})`);
  let first: ContainerEvent | undefined;
  for await (const ev of events(id, { root, intervalMs: 20 })) {
    first = ev;
    break;
  }
  t.equal(first?.type, 'stats', 'events yields a stats event');
  t.equal(first?.id, id);

  const busy = await rejection(remove(id, { root }));
  t.ok(busy instanceof ContainerStateError, `delete of a running container: ContainerStateError (${busy})`);
  t.equal((busy as Error).message, cliMessage(sb.tsr(['delete', id]).stderr), 'same message as `delete`');

  await kill(id, { root, signal: 'KILL', all: true });
  t.ok(await until(() => !isRunning(created.pid) && !isRunning(detached.pid)), 'kill --all stops the init and the exec');
  const stopped = await state(id, { root });
  t.equal(stopped.status, 'stopped');
  t.equal(stopped.pid, 0, 'a stopped container reports pid 0');
  const killStopped = await rejection(kill(id, { root }));
  t.ok(killStopped instanceof ContainerStateError, `kill of a stopped container: ContainerStateError (${killStopped})`);
  t.equal((killStopped as Error).message, 'container not running');

  await remove(id, { root });
  t.same(await list({ root }), [], 'list is empty after delete');
  t.ok((await rejection(state(id, { root }))) instanceof ContainerNotFoundError, 'state after delete: ContainerNotFoundError');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

/** Our children in state Z (unreaped): a library caller must not collect zombies. */
function ourZombies(): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return rest[0] === 'Z' && Number(rest[1]) === process.pid;
    } catch {
      return false;
    }
  });
}

t.test('delete --force of a running container with a detached exec: its processes are reaped', { skip: NEEDS_ROOT }, async (t) => {
  // The init and the exec are children of this process (not of a CLI that exits): unless the
  // library reaps them, the exec stays a zombie and the pid-namespace init can never finish dying.
  const sb = new Sandbox(t);
  const root = sb.root;
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300']);
  const { pid } = await create(id, { root, bundle });
  await start(id, { root });
  const detached = await exec(id, { root, args: ['sleep', '300'], detach: true });
  t.ok(isRunning(detached.pid), 'the detached exec runs');
  await t.resolves(remove(id, { root, force: true }), 'delete --force succeeds');
  t.notOk(isRunning(pid) || isRunning(detached.pid), 'the init and the exec are gone');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
  t.ok(await until(() => ourZombies().length === 0), `no zombie children left (${ourZombies().join(' ')})`);
});
