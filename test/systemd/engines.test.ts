// Engines on their systemd cgroup manager, with tsruntime as the runtime, where systemd is PID 1:
// Podman with cgroup_manager = "systemd" (its default on systemd hosts; cgroupsPath
// machine.slice:libpod:<id>) and containerd through ctr --runc-systemd-cgroup (the runc shim passes
// --systemd-cgroup, as CRI's SystemdCgroup does). Each container's scope is checked while it runs
// and gone after it is removed. Podman gets a private config and storage in a temp dir; containerd
// is the guest's own service, started here and stopped after.
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { execFileSync, spawnSync, SpawnSyncReturns } from 'child_process';
import { BIN, NEEDS_ROOT, sharedBundleTemplate } from '../helpers/runtime';
import { which } from '../helpers/engines';
import { waitSync } from '../helpers/wait';

function systemdIsPid1(): boolean {
  try {
    return fs.readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && fs.statSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}
const noSystemd = systemdIsPid1() ? false : 'needs systemd as PID 1 (npm run test:systemd boots a guest where it is)';

function show(unit: string, ...props: string[]): Record<string, string> {
  const out = execFileSync('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
/** Still listed by systemd (list-units does not load the unit it is asked about). */
function listed(unit: string): boolean {
  const gone = () => execFileSync('systemctl', ['list-units', '--all', '--no-legend', '--plain', unit], { encoding: 'utf8' }).trim() === '';
  return !waitSync(gone, 5000, 50);
}

t.test('podman --cgroup-manager systemd', { skip: NEEDS_ROOT || noSystemd || (which('podman') && which('conmon') ? false : 'podman and conmon are not installed') }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-podman-sd-'));
  const q = JSON.stringify;
  fs.writeFileSync(
    path.join(dir, 'containers.conf'),
    [
      '[containers]',
      'netns = "none"',
      '[engine]',
      'cgroup_manager = "systemd"',
      'runtime = "tsruntime"',
      'runtime_supports_json = ["tsruntime"]',
      '[engine.runtimes]',
      `tsruntime = [${q(BIN)}]`,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'storage.conf'), ['[storage]', 'driver = "overlay"', `graphroot = ${q(path.join(dir, 'storage'))}`, `runroot = ${q(path.join(dir, 'run'))}`, ''].join('\n'));
  const env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf') };
  const podman = (...args: string[]): SpawnSyncReturns<string> => spawnSync('podman', args, { env, encoding: 'utf8', timeout: 120_000 });
  t.teardown(() => {
    podman('rm', '-a', '-f', '-t', '0');
    podman('system', 'reset', '-f');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const tar = spawnSync('sh', ['-c', `tar -C ${q(sharedBundleTemplate().rootfs)} -c . | podman import -q - localhost/tsr-busybox-sd`], { env, encoding: 'utf8' });
  t.equal(tar.status, 0, `image: ${tar.stderr}`);

  const once = podman('run', '--rm', 'localhost/tsr-busybox-sd', 'sh', '-c', 'exit 3');
  t.equal(once.status, 3, `run --rm: the exit code (${once.stderr})`);

  const d = podman('run', '-d', '--memory', '64m', 'localhost/tsr-busybox-sd', 'sleep', '300');
  t.equal(d.status, 0, `run -d: ${d.stderr}`);
  const id = d.stdout.trim();
  const unit = `libpod-${id}.scope`;
  const p = show(unit, 'ActiveState', 'Delegate', 'Slice', 'MemoryMax');
  t.same(p, { ActiveState: 'active', Delegate: 'yes', Slice: 'machine.slice', MemoryMax: String(64 * 1024 * 1024) }, 'the container is a delegated scope with its memory limit');
  t.equal(fs.readFileSync(`/sys/fs/cgroup/machine.slice/${unit}/memory.max`, 'utf8').trim(), String(64 * 1024 * 1024));
  t.equal(podman('exec', id, 'true').status, 0, 'exec');
  t.equal(podman('pause', id).status, 0, 'pause');
  t.equal(podman('inspect', '--format', '{{.State.Status}}', id).stdout.trim(), 'paused');
  t.equal(podman('unpause', id).status, 0, 'unpause');
  t.equal(podman('stop', '-t', '0', id).status, 0, 'stop');
  t.equal(podman('rm', id).status, 0, 'rm');
  t.notOk(listed(unit), 'no unit left');
  t.notOk(fs.existsSync(`/sys/fs/cgroup/machine.slice/${unit}`), 'no cgroup left');
});

t.test('containerd: ctr run --runc-systemd-cgroup', { skip: NEEDS_ROOT || noSystemd || (which('ctr') && which('containerd') ? false : 'containerd is not installed') }, async (t) => {
  const wasActive = spawnSync('systemctl', ['is-active', '--quiet', 'containerd']).status === 0;
  if (!wasActive) t.teardown(() => void spawnSync('systemctl', ['stop', 'containerd']));
  t.equal(spawnSync('systemctl', ['start', 'containerd']).status, 0, 'containerd running');
  const ns = `tsr-sd-${process.pid}`;
  const rootfs = sharedBundleTemplate().rootfs;
  const ctr = (...args: string[]): SpawnSyncReturns<string> => spawnSync('ctr', ['--namespace', ns, ...args], { encoding: 'utf8', timeout: 120_000 });
  const run = (flag: string, id: string, ...cmd: string[]) =>
    ctr('run', flag, '--runc-binary', BIN, '--runc-systemd-cgroup', '--cgroup', `system.slice:tsrctr:${id}`, '--rootfs', rootfs, id, ...cmd);
  const ids = [`c1-${process.pid}`, `c2-${process.pid}`];
  t.teardown(() => {
    for (const id of ids) {
      ctr('task', 'kill', '-s', 'KILL', id);
      ctr('task', 'rm', '-f', id);
      ctr('container', 'rm', id);
    }
    ctr('namespace', 'rm', ns);
  });

  const once = run('--rm', ids[0], 'sh', '-c', 'exit 3');
  t.equal(once.status, 3, `run --rm: the exit code (${once.stderr})`);
  t.notOk(listed(`tsrctr-${ids[0]}.scope`), 'no unit left after run --rm');

  const d = run('-d', ids[1], 'sleep', '300');
  t.equal(d.status, 0, `run -d: ${d.stderr}`);
  const unit = `tsrctr-${ids[1]}.scope`;
  t.same(show(unit, 'ActiveState', 'Delegate'), { ActiveState: 'active', Delegate: 'yes' });
  const ps = ctr('task', 'ps', ids[1]);
  t.equal(ps.status, 0, `task ps: ${ps.stderr}`);
  t.equal(ctr('task', 'pause', ids[1]).status, 0, 'pause');
  t.equal(fs.readFileSync(`/sys/fs/cgroup/system.slice/${unit}/cgroup.freeze`, 'utf8').trim(), '1');
  t.equal(ctr('task', 'resume', ids[1]).status, 0, 'resume');
  t.equal(ctr('task', 'kill', '-s', 'KILL', ids[1]).status, 0, 'kill');
  t.ok(waitSync(() => ctr('task', 'ls').stdout.includes('STOPPED'), 10_000), 'stopped');
  t.equal(ctr('task', 'rm', ids[1]).status, 0, 'task rm');
  t.equal(ctr('container', 'rm', ids[1]).status, 0, 'container rm');
  t.notOk(listed(unit), 'no unit left');
});
