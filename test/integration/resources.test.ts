/**
 * linux.resources enforced on real containers, through the CLI, on whatever cgroup layout the host
 * has: this project's VM is hybrid (v1 controllers), `npm run test:cgroup2` runs this file on pure
 * cgroup v2 in an emulated guest (scripts/vm.sh). Also update, events, ps --format json, pause/resume.
 *
 * Containers are few and each does several things: every CLI call costs seconds in the emulated guest.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, NEEDS_ROOT, Sandbox, cgroupRoots, leftovers } from '../helpers/runtime';
import { sleep } from '../helpers/wait';
import { cgroupManager, readLayout } from '../../src/cgroups';
import { sharesToWeight } from '../../src/cgroups/resources';

const layout = readLayout();
const v2 = layout.mode === 'v2';
const MB = 1024 * 1024;
t.comment(`cgroup layout: ${layout.mode}`);

const skip = NEEDS_ROOT;

/** The container's cgroup directory for a controller ("" on v2). */
function dirOf(id: string, controller: string): string {
  const m = cgroupManager({ id });
  return v2 ? m.paths[''] : m.paths[controller];
}
function read(dir: string, file: string): string {
  return fs.readFileSync(path.join(dir, file), 'utf8').trim();
}
function keyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}
function withResources(resources: Record<string, unknown>, extra?: (spec: Record<string, any>) => void) {
  return (spec: Record<string, any>) => {
    spec.linux.resources = resources;
    extra?.(spec);
  };
}
function addCaps(...caps: string[]) {
  return (spec: Record<string, any>) => {
    for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set].push(...caps);
  };
}

t.test('memory: an allocation beyond the limit is OOM-killed, a smaller one is not', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  // tail keeps a whole "line" of /dev/zero in memory: 8 MB fits in 32 MB, 200 MB does not. The
  // big pipeline raises its oom_score_adj so the OOM killer picks it, never the shell (pid 1).
  const bundle = sb.bundle(
    ['sh', '-c', 'head -c 8m /dev/zero | tail >/dev/null && echo small-ok; (echo 1000 > /proc/self/oom_score_adj; head -c 200m /dev/zero | tail >/dev/null); echo "big=$?"'],
    withResources({ memory: { limit: 32 * MB, swap: 32 * MB } }),
  );
  const r = sb.tsr(['run', '--bundle', bundle, id], { timeout: 60_000 });
  t.equal(r.status, 0, `run: ${r.stderr}`);
  t.match(r.stdout, /^small-ok$/m, '8 MB fits');
  t.match(r.stdout, /^big=137$/m, 'the 200 MB allocation was SIGKILLed (137)');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('pids: fork fails at the limit', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  // sh plus 5 sleeps make 6: the 6th sleep cannot be forked, and busybox sh gives up.
  const bundle = sb.bundle(['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; sleep 30 & done'], withResources({ pids: { limit: 6 } }));
  const r = sb.tsr(['run', '--bundle', bundle, id], { timeout: 60_000 });
  t.not(r.status, 0, 'the shell failed');
  t.match(r.stderr, /can't fork: Resource temporarily unavailable/, 'fork failed with EAGAIN');
  t.equal(r.stdout.trim().split('\n').pop(), '6', 'exactly 5 children were forked before the 6th fork failed');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('devices: a denied device cannot be opened, an allowed one and the defaults can', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  // b 7:0 (loop0) is allowed for reading only: opening it for reading works (or fails with ENXIO
  // where there is no loop driver: not refused by the cgroup), for writing it is EPERM. c 1:1
  // (/dev/mem) stays denied; c 1:3 (/dev/null) is one of runc's default devices.
  const script = [
    'mknod /dev/blk b 7 0 && mknod /dev/mem2 c 1 1 && mknod /dev/null2 c 1 3 && echo mknod-ok',
    'e=$(head -c 0 /dev/blk 2>&1); echo "blk-read=$? $e"',
    'e=$( (echo x >/dev/blk) 2>&1); echo "blk-write=$? $e"',
    'e=$(head -c 1 /dev/mem2 2>&1); echo "mem-read=$? $e"',
    'e=$(head -c 1 /dev/null2 2>&1); echo "null-read=$? $e"',
  ].join('; ');
  const bundle = sb.bundle(
    ['sh', '-c', script],
    withResources(
      {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'b', major: 7, minor: 0, access: 'r' },
        ],
      },
      addCaps('CAP_MKNOD'),
    ),
  );
  const r = sb.tsr(['run', '--bundle', bundle, id], { timeout: 60_000 });
  t.equal(r.status, 0, `run: ${r.stderr}`);
  const line = (name: string) => new RegExp(`^${name}=.*$`, 'm').exec(r.stdout)?.[0] ?? '';
  t.match(r.stdout, /^mknod-ok$/m, 'mknod is allowed (default "b *:* m" and "c *:* m")');
  t.notMatch(line('blk-read'), /Operation not permitted/, `reading the allowed block device is not refused (${line('blk-read')})`);
  t.match(line('blk-write'), /^blk-write=[1-9].*Operation not permitted/, 'writing it is');
  t.match(line('mem-read'), /^mem-read=[1-9].*Operation not permitted/, 'an unlisted char device is denied');
  t.equal(line('null-read'), 'null-read=0 ', 'a default device (c 1:3) is allowed');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('devices (v1): devices.list keeps the order the config gives its rules in', { skip: skip || (v2 ? 'no devices.list on cgroup v2 (an eBPF program instead)' : false) }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(
    ['sleep', '30'],
    withResources({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rwm' },
        { allow: true, type: 'b', major: 8, minor: 0, access: 'r' },
        { allow: true, type: 'c', major: 4, access: 'rw' },
      ],
    }),
  );
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const list = read(dirOf(id, 'devices'), 'devices.list').split('\n');
  t.same(list.slice(0, 3), ['c 10:229 rwm', 'b 8:0 r', 'c 4:* rw'], 'the config\'s rules first, in its order (runtime-tools linux_cgroups_devices)');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
});

t.test('cpu quota enforced; events --stats, ps --format json, update, pause/resume on a live container', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(
    ['sh', '-c', 'while :; do :; done'],
    withResources({ cpu: { shares: 512, quota: 20000, period: 100000 }, memory: { limit: 64 * MB }, pids: { limit: 50 } }),
  );
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  t.equal(sb.tsr(['start', id]).status, 0);
  const cpuDir = dirOf(id, 'cpu');
  if (v2) {
    t.equal(read(cpuDir, 'cpu.max'), '20000 100000', 'cpu.max');
    t.equal(read(cpuDir, 'cpu.weight'), String(sharesToWeight(512)), 'cpu.weight from shares 512');
    t.equal(read(cpuDir, 'memory.max'), String(64 * MB), 'memory.max');
    t.equal(read(cpuDir, 'pids.max'), '50', 'pids.max');
  } else {
    t.equal(read(cpuDir, 'cpu.cfs_quota_us'), '20000', 'cpu.cfs_quota_us');
    t.equal(read(cpuDir, 'cpu.cfs_period_us'), '100000', 'cpu.cfs_period_us');
    t.equal(read(cpuDir, 'cpu.shares'), '512', 'cpu.shares');
    t.equal(read(dirOf(id, 'memory'), 'memory.limit_in_bytes'), String(64 * MB), 'memory.limit_in_bytes');
    t.equal(read(dirOf(id, 'pids'), 'pids.max'), '50', 'pids.max');
  }
  // The busy loop runs into the quota: throttled periods pile up.
  let throttled = 0;
  for (let i = 0; i < 50 && throttled === 0; i++) {
    await sleep(100);
    throttled = keyValues(read(cpuDir, 'cpu.stat')).nr_throttled ?? 0;
  }
  t.ok(throttled > 0, `busy loop throttled (nr_throttled ${throttled})`);

  const initPid = sb.state(id).pid;
  const ps = sb.tsr(['ps', '--format', 'json', id]);
  t.equal(ps.status, 0, ps.stderr);
  t.same(JSON.parse(ps.stdout), [initPid], 'ps --format json: the host pids');

  const ev = sb.tsr(['events', '--stats', id]);
  t.equal(ev.status, 0, ev.stderr);
  const lines = ev.stdout.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  const e = JSON.parse(lines[0]);
  t.equal(e.type, 'stats');
  t.equal(e.id, id);
  t.equal(e.data.pids.current, 1, 'pids.current');
  t.equal(e.data.pids.limit, 50, 'pids.limit');
  t.equal(e.data.memory.usage.limit, 64 * MB, 'memory limit');
  t.ok(e.data.memory.usage.usage > 0, 'memory usage');
  t.ok(e.data.cpu.usage.total > 0, 'cpu usage');
  t.ok(e.data.cpu.throttling.throttledPeriods > 0, 'throttled periods');
  t.match(ev.stdout, /"network_interfaces":null/, "runc's shape");

  const up = sb.tsr(['update', '--memory', '96m', '--cpu-quota', '50000', '--pids-limit', '40', '--cpu-share', '1024', id]);
  t.equal(up.status, 0, `update: ${up.stderr}`);
  if (v2) {
    t.equal(read(cpuDir, 'cpu.max'), '50000 100000', 'updated cpu.max');
    t.equal(read(cpuDir, 'memory.max'), String(96 * MB), 'updated memory.max');
    t.equal(read(cpuDir, 'pids.max'), '40', 'updated pids.max');
    t.equal(read(cpuDir, 'cpu.weight'), '100', 'shares 1024 → weight 100');
  } else {
    t.equal(read(cpuDir, 'cpu.cfs_quota_us'), '50000', 'updated cfs_quota_us');
    t.equal(read(dirOf(id, 'memory'), 'memory.limit_in_bytes'), String(96 * MB), 'updated memory limit');
    t.equal(read(dirOf(id, 'pids'), 'pids.max'), '40', 'updated pids.max');
    t.equal(read(cpuDir, 'cpu.shares'), '1024', 'updated cpu.shares');
  }
  // --resources from standard input; unchanged values (the quota) stay.
  const stdin = spawnSync(BIN, ['--root', sb.root, 'update', '--resources', '-', id], {
    input: JSON.stringify({ memory: { limit: 80 * MB }, cpu: { period: 200000 } }),
    encoding: 'utf8',
  });
  t.equal(stdin.status, 0, `update -r -: ${stdin.stderr}`);
  if (v2) t.equal(read(cpuDir, 'cpu.max'), '50000 200000', 'period changed, quota kept');
  else {
    t.equal(read(cpuDir, 'cpu.cfs_period_us'), '200000', 'period changed');
    t.equal(read(cpuDir, 'cpu.cfs_quota_us'), '50000', 'quota kept');
  }
  t.equal(read(dirOf(id, 'memory'), v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(80 * MB), 'memory from the document');
  const bad = sb.tsr(['update', '--memory', 'lots', id]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /invalid value for memory/);
  const badDoc = path.join(sb.dir, 'bad-resources.json');
  fs.writeFileSync(badDoc, JSON.stringify({ pids: { limit: 'many' } }));
  const badR = sb.tsr(['update', '-r', badDoc, id]);
  t.equal(badR.status, 1);
  t.match(badR.stderr, /invalid resources: \/pids\/limit/);
  const devs = sb.tsr(['update', '-r', '-', id]);
  t.equal(devs.status, 1, 'empty stdin is not a document');
  const belowMemory = path.join(sb.dir, 'swap-below-memory.json');
  fs.writeFileSync(belowMemory, JSON.stringify({ memory: { limit: 64 * MB, swap: 32 * MB } }));
  const rule = sb.tsr(['update', '-r', belowMemory, id]);
  t.equal(rule.status, 1, 'update checks the rules create checks');
  t.match(rule.stderr, /linux\.resources\.memory\.swap: memory\+swap limit should be >= memory limit/);
  t.equal(read(dirOf(id, 'memory'), v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(80 * MB), 'nothing written');

  t.equal(sb.tsr(['pause', id]).status, 0, 'pause');
  t.equal(sb.state(id).status, 'paused');
  const usage = (): bigint | undefined => {
    const r = sb.tsr(['events', '--stats', id]);
    t.equal(r.status, 0, `events --stats while paused: ${r.stderr}`);
    return r.status === 0 ? BigInt(JSON.parse(r.stdout).data.cpu.usage.total) : undefined;
  };
  const frozenUsage = usage();
  await sleep(300);
  t.equal(usage(), frozenUsage, 'no CPU time while paused');
  t.equal(sb.tsr(['resume', id]).status, 0, 'resume');
  t.equal(sb.state(id).status, 'running');

  t.equal(sb.tsr(['kill', id, 'KILL']).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'), 'stopped');
  const late = sb.tsr(['update', '--memory', '64m', id]);
  t.equal(late.status, 1);
  t.match(late.stderr, /container not running/);
  const lateEv = sb.tsr(['events', '--stats', id]);
  t.match(lateEv.stderr, /is not running/);
  t.equal(sb.tsr(['delete', id]).status, 0);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('events: an oom line when the OOM killer strikes, stats lines, and an end when the container stops', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  // Waits for /dev/go (made from the host once events runs), then OOMs and exits.
  const bundle = sb.bundle(
    ['sh', '-c', 'while [ ! -e /dev/go ]; do sleep 0.05; done; head -c 100m /dev/zero | tail >/dev/null; sleep 0.5'],
    withResources({ memory: { limit: 24 * MB, swap: 24 * MB } }),
  );
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  t.equal(sb.tsr(['start', id]).status, 0);
  const pid = sb.state(id).pid;
  const events = spawn(BIN, ['--root', sb.root, 'events', '--interval', '200ms', id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  events.stdout.on('data', (d) => (out += d));
  events.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => events.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (events.exitCode === null) events.kill('SIGKILL');
  });
  for (let i = 0; i < 300 && !out.includes('"stats"'); i++) await sleep(50);
  t.match(out, /"type":"stats"/, 'a stats line came first');
  fs.writeFileSync(`/proc/${pid}/root/dev/go`, '');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 60_000)))]);
  clearTimeout(timer);
  t.equal(code, 0, `events exited by itself when the container stopped ${err}`);
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  t.ok(lines.some((l) => l.type === 'oom' && l.id === id && l.data === undefined), 'an oom event');
  t.ok(lines.filter((l) => l.type === 'stats').length >= 1, 'stats events');
  t.equal(sb.tsr(['delete', id]).status, 0);
});

t.test('resource fields the host cannot honour fail create before anything is made', { skip }, async (t) => {
  const sb = new Sandbox(t);
  // A parent cgroup of this test's own: making the container's cgroup would make it too, and
  // undoing a failed create removes only the container's, so its absence shows none was made.
  const parent = `tsr-rules-${process.pid}`;
  const parentDirs = () => cgroupRoots().map((root) => path.join(root, parent)).filter((d) => fs.existsSync(d));
  t.teardown(() => {
    for (const dir of parentDirs()) fs.rmdirSync(dir);
  });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = v2
    ? [
        ['swappiness', { memory: { swappiness: 10 } }, /^linux\.resources\.memory\.swappiness: cgroup v2 has no per-cgroup swappiness$/],
        ['realtime', { cpu: { realtimeRuntime: 1000 } }, /^linux\.resources\.cpu\.realtimeRuntime: realtime CPU limits are not supported on cgroup v2$/],
        ['net_cls', { network: { classID: 1 } }, /^linux\.resources\.network\.classID: /],
        ['swap below memory', { memory: { limit: 64 * MB, swap: 32 * MB } }, /^linux\.resources\.memory\.swap: memory\+swap limit should be >= memory limit$/],
        ['unknown unified key', { unified: { 'nosuch.file': '1' } }, /^linux\.resources\.unified\["nosuch\.file"\]: the nosuch controller is not available/],
      ]
    : [
        ['net_cls', { network: { classID: 1 } }, /^linux\.resources\.network\.classID: cannot set net_cls limit: no net_cls cgroup hierarchy is mounted/],
        ['swappiness range', { memory: { swappiness: 101 } }, /^linux\.resources\.memory\.swappiness: invalid memory swappiness value: 101/],
        ['swap below memory', { memory: { limit: 64 * MB, swap: 32 * MB } }, /^linux\.resources\.memory\.swap: memory\+swap limit should be >= memory limit$/],
        ['unified v1 key', { unified: { 'memory.high': '1000000' } }, /^linux\.resources\.unified.*cannot use unified on cgroup v1/],
      ];
  cases.push(
    ['huge page size', { hugepageLimits: [{ pageSize: '3MB', limit: 0 }] }, /^linux\.resources\.hugepageLimits(\[0\]\.pageSize: "3MB" is not a huge page size|: cannot set hugetlb limit)/],
    ['empty device access', { devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: '' }] }, /^linux\.resources\.devices\[0\]\.access: device access cannot be empty$/],
    [
      'device rule inside a wildcard',
      { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'r' }] },
      /^linux\.resources\.devices: device rule "c 1:3 r" \(deny\) cannot be applied: it would punch a hole in the wildcard rule "c \*:\* rwm"/,
    ],
  );
  for (const [what, resources, message] of cases) {
    const id = sb.id();
    const bundle = sb.bundle(['true'], withResources(resources, (s) => (s.linux.cgroupsPath = `/${parent}/${id}`)));
    const r = sb.tsr(['create', '--bundle', bundle, id]);
    t.equal(r.status, 1, `${what}: create fails`);
    t.match(r.stderr.trim().replace(/^tsruntime: /, ''), message, `${what}: ${r.stderr.trim()}`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.same(leftovers(sb, id, bundle), [], `${what}: nothing left behind`);
    t.same(parentDirs(), [], `${what}: no cgroup was made`);
    t.notOk(fs.existsSync(sb.root), `${what}: no state was written (the id was never claimed)`);
  }
});

const hugetlbOnV2Mount = layout.mode === 'hybrid' && fs.readFileSync(path.join(layout.unified!.mountPoint, 'cgroup.controllers'), 'utf8').includes('hugetlb');
const hugetlbV1 = layout.v1.some((h) => h.controllers.includes('hugetlb'));
const noUnifiedOrHugetlb = !v2 && layout.mode !== 'hybrid' && !hugetlbOnV2Mount && !hugetlbV1;
const unifiedSkip = skip || (noUnifiedOrHugetlb ? 'no cgroup2 unified keys or hugetlb controller on this host' : false);

t.test('unified keys (v2), hugepage limits (hybrid: cgroup2 hugetlb; v1: hugetlb hierarchy)', { skip: unifiedSkip }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const resources: Record<string, unknown> = {};
  if (v2) resources.unified = { 'memory.high': String(48 * MB), 'pids.max': '33' };
  if (hugetlbOnV2Mount || hugetlbV1) resources.hugepageLimits = [{ pageSize: '2MB', limit: 4 * MB }];
  if (layout.mode === 'hybrid') resources.unified = { 'cgroup.max.descendants': '5' }; // a core file of the cgroup2 mount
  const bundle = sb.bundle(['sleep', '100'], withResources(resources));
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  const m = cgroupManager({ id });
  if (v2) {
    t.equal(read(m.paths[''], 'memory.high'), String(48 * MB), 'memory.high from unified');
    t.equal(read(m.paths[''], 'pids.max'), '33', 'pids.max from unified');
  }
  if (layout.mode === 'hybrid') t.equal(read(m.paths[''], 'cgroup.max.descendants'), '5', 'unified key in the hybrid cgroup2 directory');
  if (hugetlbV1) t.equal(read(m.paths.hugetlb, 'hugetlb.2MB.limit_in_bytes'), String(4 * MB), 'v1 hugetlb limit');
  else if (hugetlbOnV2Mount) {
    t.equal(read(m.paths[''], 'hugetlb.2MB.max'), String(4 * MB), 'hugetlb.2MB.max in the cgroup2 directory');
    if (fs.existsSync(path.join(m.paths[''], 'hugetlb.2MB.rsvd.max'))) t.equal(read(m.paths[''], 'hugetlb.2MB.rsvd.max'), String(4 * MB), 'rsvd too');
  }
  t.equal(sb.tsr(['delete', id]).status, 0);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});
