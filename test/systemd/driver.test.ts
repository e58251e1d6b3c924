// The systemd cgroup driver against a real systemd (PID 1, with D-Bus): npm run test:systemd boots
// a guest for it. Checks what systemd says (unit properties over D-Bus, via systemctl) and what the
// kernel says (the scope's cgroup files) for create, update, pause/resume, ps, exec, kill --all and
// delete, that delete leaves no unit, slice or cgroup behind, and the driver's errors.
// Runs on cgroup v2 and on hybrid or legacy hosts (v1 controllers, where create also makes the
// scope in the hierarchies systemd leaves alone). Skips with a reason when PID 1 is not systemd
// (the development host) or when not root.
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import { BIN, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { waitSync } from '../helpers/wait';

function systemdIsPid1(): boolean {
  try {
    return fs.readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && fs.statSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

const skip = NEEDS_ROOT || (systemdIsPid1() ? false : 'needs systemd as PID 1 (npm run test:systemd boots a guest where it is)');
const CG = '/sys/fs/cgroup';
const SD = ['--systemd-cgroup'];

/** systemctl show <unit> -p ... as an object ("" for an unknown property). */
function show(unit: string, ...props: string[]): Record<string, string> {
  const out = execFileSync('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])], { encoding: 'utf8' });
  return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
/**
 * Still known to systemd (running, failed, or stopped and not yet garbage-collected)? Asked with
 * list-units: `systemctl show` would load the unit it asks about (a slice needs no unit file).
 */
function loaded(unit: string): boolean {
  const listed = () => execFileSync('systemctl', ['list-units', '--all', '--no-legend', '--plain', unit], { encoding: 'utf8' }).trim() !== '';
  return !waitSync(() => !listed(), 3000, 50);
}
const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8').trim();

/**
 * What differs between systemd on cgroup v2 and on a hybrid or legacy host (v1 controllers):
 * the unit's property names and the cgroup files. `file` reads a control file of the cgroup rel
 * (from the hierarchy root): on v1 in its controller's hierarchy.
 */
const V2 = fs.existsSync(path.join(CG, 'cgroup.controllers'));
const layout = V2
  ? {
      file: (rel: string, v2: string) => read(path.join(CG, rel), v2),
      memoryMax: 'MemoryMax',
      cpuWeight: 'CPUWeight',
      /** The line of /proc/<pid>/cgroup that names a process's cgroup in the hierarchy systemd tracks it by. */
      cgroupLine: (rel: string) => `0::${rel}\n`,
    }
  : {
      file: (rel: string, _v2: string, [controller, v1]: [string, string]) => read(path.join(CG, controller, rel), v1),
      memoryMax: 'MemoryLimit',
      cpuWeight: 'CPUShares',
      cgroupLine: (rel: string) => `name=systemd:${rel}\n`,
    };
const file = (rel: string, v2: string, v1: [string, string]) => layout.file(rel, v2, v1);

t.test('a pod container: scope in nested slices, resources in the unit and in the files, lifecycle, delete', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id('sd');
  const pod = `tsrtestpod${process.pid}`;
  const slice = `kubepods-besteffort-${pod}.slice`;
  const unit = `cri-containerd-${id}.scope`;
  const dir = path.join(CG, 'kubepods.slice', 'kubepods-besteffort.slice', slice, unit);
  const bundle = sb.bundle(['sleep', '300'], (s) => {
    s.linux.cgroupsPath = `${slice}:cri-containerd:${id}`;
    s.linux.devices = [{ path: '/dev/mem', type: 'c', major: 1, minor: 1, fileMode: 0o600 }];
    s.linux.resources = {
      memory: { limit: 100 * 1024 * 1024, reservation: 10 * 1024 * 1024 },
      cpu: { shares: 512, quota: 12345, period: 100000, cpus: '0' },
      pids: { limit: 50 },
      // cgroup v1's blkio.weight needs CFQ, gone from current kernels: the weight is a v2 check.
      ...(V2 ? { blockIO: { weight: 500 } } : {}),
      devices: [{ allow: false, access: 'rwm' }],
    };
  });
  t.teardown(() => {
    spawnSync('systemctl', ['stop', unit, slice, 'kubepods-besteffort.slice', 'kubepods.slice']);
  });

  const c = sb.tsr([...SD, 'create', '--bundle', bundle, id]);
  t.equal(c.status, 0, `create: ${c.stderr}`);
  const st = sb.state(id);
  t.equal(st.status, 'created');

  const rel = dir.slice(CG.length);
  const p = show(unit, 'ActiveState', 'Delegate', 'Slice', 'ControlGroup', layout.memoryMax, 'MemoryLow', layout.cpuWeight, 'CPUQuotaPerSecUSec', 'CPUQuotaPeriodUSec', 'TasksMax', 'AllowedCPUs', 'IOWeight', 'DevicePolicy');
  t.equal(p.ActiveState, 'active', 'the scope is running');
  t.equal(p.Delegate, 'yes', 'Delegate=yes');
  t.equal(p.Slice, slice, 'in the pod slice');
  t.equal(p.ControlGroup, rel, "the slice's parents in the cgroup path");
  t.equal(p[layout.memoryMax], String(100 * 1024 * 1024));
  t.equal(p.CPUQuotaPerSecUSec, '130ms', 'quota 12345/100000 rounded up to systemd 10 ms steps');
  t.equal(p.CPUQuotaPeriodUSec, '100ms');
  t.equal(p.TasksMax, '50');
  t.equal(p.DevicePolicy, 'strict');
  if (V2) {
    t.equal(p.MemoryLow, String(10 * 1024 * 1024));
    t.equal(p.CPUWeight, '59', 'shares 512 → weight 59');
    t.equal(p.AllowedCPUs, '0');
    t.equal(p.IOWeight, '4950');
  } else {
    t.equal(p.CPUShares, '512');
  }

  t.equal(file(rel, 'memory.max', ['memory', 'memory.limit_in_bytes']), String(100 * 1024 * 1024), 'memory limit');
  t.equal(file(rel, 'memory.low', ['memory', 'memory.soft_limit_in_bytes']), String(10 * 1024 * 1024), 'memory reservation');
  t.equal(file(rel, 'cpu.weight', ['cpu', 'cpu.shares']), V2 ? '59' : '512');
  t.match(file(rel, 'cpu.max', ['cpu', 'cpu.cfs_quota_us']), /^13000\b/, 'the CPU quota rounded as the unit has it');
  t.equal(file(rel, 'pids.max', ['pids', 'pids.max']), '50');
  t.equal(file(rel, 'cpuset.cpus', ['cpuset', 'cpuset.cpus']), '0', 'cpuset (on v1 a hierarchy systemd leaves to us)');
  t.same(file(rel, 'cgroup.procs', ['pids', 'cgroup.procs']).split('\n').map(Number), [st.pid], 'the init, alone, in the scope');
  if (!V2) t.same(file(rel, 'cgroup.procs', ['freezer', 'cgroup.procs']).split('\n').map(Number), [st.pid], 'and in the freezer hierarchy');
  t.match(fs.readFileSync(`/proc/${st.pid}/cgroup`, 'utf8'), layout.cgroupLine(rel));

  t.equal(sb.tsr(['start', id]).status, 0, 'start');
  t.equal(sb.state(id).status, 'running');
  const ps = sb.tsr(['ps', '--format', 'json', id]);
  t.same(JSON.parse(ps.stdout), [st.pid], 'ps: the pids of the unit');
  const ex = sb.tsr(['exec', id, 'cat', '/proc/self/cgroup']);
  t.match(ex.stdout, layout.cgroupLine(rel), 'exec joins the scope (no cgroup namespace)');
  const dev = sb.tsr(['exec', id, 'sh', '-c', 'head -c 1 /dev/zero | wc -c; head -c 1 /dev/mem 2>&1; true']);
  t.match(dev.stdout, /^1\n.*not permitted/s, 'devices: /dev/zero allowed, /dev/mem (made, not allowed) denied');

  t.equal(sb.tsr(['pause', id]).status, 0, 'pause');
  t.equal(sb.state(id).status, 'paused');
  t.equal(file(rel, 'cgroup.freeze', ['freezer', 'freezer.state']), V2 ? '1' : 'FROZEN');
  t.equal(sb.tsr(['resume', id]).status, 0, 'resume');
  t.equal(sb.state(id).status, 'running');

  const u = sb.tsr(['update', '--memory', String(200 * 1024 * 1024), '--pids-limit', '60', '--cpu-share', '1024', id]);
  t.equal(u.status, 0, `update: ${u.stderr}`);
  const after = show(unit, layout.memoryMax, 'TasksMax', layout.cpuWeight, 'DevicePolicy');
  t.same(after, { [layout.memoryMax]: String(200 * 1024 * 1024), TasksMax: '60', [layout.cpuWeight]: V2 ? '100' : '1024', DevicePolicy: 'strict' }, 'update: unit properties');
  t.equal(file(rel, 'memory.max', ['memory', 'memory.limit_in_bytes']), String(200 * 1024 * 1024), 'update: memory limit');
  t.equal(file(rel, 'pids.max', ['pids', 'pids.max']), '60', 'update: pids.max');

  const ev = sb.tsr(['events', '--stats', id]);
  t.equal(ev.status, 0, `events --stats: ${ev.stderr}`);
  t.equal(JSON.parse(ev.stdout).data.pids.current, 1, 'events: stats of the unit cgroup');

  t.equal(sb.tsr(['exec', '-d', id, 'sleep', '300']).status, 0);
  t.equal(file(rel, 'cgroup.procs', ['pids', 'cgroup.procs']).split('\n').length, 2);
  t.equal(sb.tsr(['kill', '--all', id, 'KILL']).status, 0, 'kill --all');
  t.ok(sb.waitStatus(id, 'stopped'), 'every process of the unit killed');

  const d = sb.tsr(['delete', id]);
  t.equal(d.status, 0, `delete: ${d.stderr}`);
  t.notOk(loaded(unit), 'no unit left');
  for (const s of [slice, 'kubepods-besteffort.slice', 'kubepods.slice']) t.notOk(loaded(s), `no slice left: ${s}`);
  const hierarchies = V2 ? [CG] : fs.readdirSync(CG).map((h) => path.join(CG, h));
  t.same(hierarchies.map((h) => path.join(h, 'kubepods.slice')).filter((d) => fs.existsSync(d)), [], 'no cgroup left in any hierarchy');
  t.notOk(fs.existsSync(path.join(sb.root, id)), 'no state left');
});

t.test('the default: system.slice/tsruntime-<id>.scope; run and delete --force', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id('sd');
  const unit = `tsruntime-${id}.scope`;
  t.teardown(() => void spawnSync('systemctl', ['stop', unit]));
  const bundle = sb.bundle(['sh', '-c', 'cat /proc/self/cgroup; exit 3']);
  const r = sb.tsr([...SD, 'run', '--bundle', bundle, id]);
  t.equal(r.status, 3, `run: exit code of the container (${r.stderr})`);
  t.match(r.stdout, layout.cgroupLine(`/system.slice/${unit}`));
  t.notOk(loaded(unit), 'run deleted the unit');
  t.ok(show('system.slice', 'ActiveState').ActiveState === 'active', "system.slice is systemd's: left alone");

  const id2 = sb.id('sd');
  const b2 = sb.bundle(['sleep', '300']);
  t.equal(sb.tsr([...SD, 'run', '-d', '--bundle', b2, id2]).status, 0);
  t.equal(show(`tsruntime-${id2}.scope`, 'ActiveState').ActiveState, 'active');
  t.equal(sb.tsr(['delete', '--force', id2]).status, 0, 'delete --force a running container');
  t.notOk(loaded(`tsruntime-${id2}.scope`));
  t.notOk(fs.existsSync(path.join(V2 ? CG : path.join(CG, 'systemd'), 'system.slice', `tsruntime-${id2}.scope`)));
});

t.test('errors', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = (cgroupsPath?: string) => sb.bundle(['sleep', '300'], (s) => (cgroupsPath === undefined ? delete s.linux.cgroupsPath : (s.linux.cgroupsPath = cgroupsPath)));

  const bad = sb.tsr([...SD, 'create', '--bundle', bundle('/x/y'), sb.id('sd')]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/x/y" instead');

  // Two containers, one unit: the second create fails and leaves the first alone.
  const a = sb.id('sd');
  const shared = `system.slice:tsrtest:${a}`;
  t.teardown(() => void spawnSync('systemctl', ['stop', `tsrtest-${a}.scope`]));
  t.equal(sb.tsr([...SD, 'create', '--bundle', bundle(shared), a]).status, 0);
  const b = sb.id('sd');
  const dup = sb.tsr([...SD, 'create', '--bundle', bundle(shared), b]);
  t.equal(dup.status, 1);
  t.match(dup.stderr, `systemd cgroup driver: unit tsrtest-${a}.scope already exists (active): is another container using its cgroupsPath?`);
  t.equal(show(`tsrtest-${a}.scope`, 'ActiveState').ActiveState, 'active', "the other container's unit is untouched");
  t.notOk(fs.existsSync(path.join(sb.root, b)), 'nothing left of the failed create');
  t.equal(sb.tsr(['delete', a]).status, 0);

  // A job that fails: a slice whose start is refused (an assertion that does not hold).
  const failSlice = `tsrtestfail${process.pid}.slice`;
  fs.writeFileSync(`/run/systemd/system/${failSlice}`, '[Unit]\nAssertPathExists=/nonexistent-tsruntime-test\n');
  t.teardown(() => {
    fs.rmSync(`/run/systemd/system/${failSlice}`, { force: true });
    spawnSync('systemctl', ['daemon-reload']);
  });
  execFileSync('systemctl', ['daemon-reload']);
  const f = sb.id('sd');
  const failed = sb.tsr([...SD, 'create', '--bundle', bundle(`${failSlice}:tsrtest:${f}`), f]);
  t.equal(failed.status, 1);
  t.match(failed.stderr, new RegExp(`systemd cgroup driver: the job starting unit tsrtest-${f}\\.scope ended with result "dependency"`));
  t.notOk(loaded(`tsrtest-${f}.scope`), 'no unit left of the failed create');
  t.notOk(fs.existsSync(path.join(sb.root, f)), 'no state left');

  // No system bus.
  const n = sb.id('sd');
  const nobus = spawnSync(BIN, ['--root', sb.root, ...SD, 'create', '--bundle', bundle(), n], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/run/tsruntime-test-no-bus' },
    encoding: 'utf8',
  });
  t.equal(nobus.status, 1);
  t.match(nobus.stderr, 'systemd cgroup driver: cannot connect to the system bus at /run/tsruntime-test-no-bus: ENOENT (is systemd running?)');
  t.notOk(fs.existsSync(path.join(sb.root, n)), 'nothing left');
  t.notOk(loaded(`tsruntime-${n}.scope`), 'no unit');
});
