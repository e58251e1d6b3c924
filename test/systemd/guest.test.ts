/**
 * The guest `npm run test:systemd` boots (scripts/vm.sh --systemd) is what the systemd cgroup
 * driver's tests assume: PID 1 is systemd, reachable over D-Bus, on the unified cgroup v2
 * hierarchy, and able to make a delegated transient scope. When one of these fails, the driver's
 * tests would fail for a reason of the guest's; this file says which.
 * Elsewhere (a host whose PID 1 is not systemd) every test skips with the reason.
 */
import t from 'tap';
import { spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import fs from 'fs';
import { NEEDS_ROOT } from '../helpers/runtime';
import { until } from '../helpers/wait';

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** Why this file cannot run here, or false. sd_booted()'s test plus PID 1's name. */
function notUnderSystemd(): false | string {
  if (NEEDS_ROOT) return NEEDS_ROOT;
  let comm = '';
  try {
    comm = fs.readFileSync('/proc/1/comm', 'utf8').trim();
  } catch {
    // no /proc: not a systemd host either
  }
  if (comm !== 'systemd' || !fs.existsSync('/run/systemd/system')) {
    return `PID 1 is ${comm || 'unknown'}, not systemd: npm run test:systemd runs this in a guest booted with systemd`;
  }
  return false;
}
const skip = notUnderSystemd();

/** Runs a command; its stdout, or a thrown error with its stderr. Generous timeout: the guest is emulated. */
function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

t.test('PID 1 is systemd and the boot finished', { skip }, async (t) => {
  t.equal(fs.readFileSync('/proc/1/comm', 'utf8').trim(), 'systemd');
  t.match(fs.readlinkSync('/proc/1/exe'), /\/systemd$/, "PID 1's executable");
  // --wait: the command may start before the boot job has completed. "degraded" is a unit failing
  // at boot, which the driver does not care about; "starting" or "maintenance" would be a broken guest.
  const r = spawnSync('systemctl', ['is-system-running', '--wait'], { encoding: 'utf8', timeout: 120_000 });
  t.match(r.stdout.trim(), /^(running|degraded)$/, 'systemctl is-system-running');
});

t.test('systemd answers on the system bus', { skip }, async (t) => {
  const names = run('busctl', ['--system', '--no-pager', '--no-legend', 'list'])
    .split('\n')
    .map((l) => l.split(/\s+/)[0]);
  t.ok(names.includes('org.freedesktop.systemd1'), 'busctl list names org.freedesktop.systemd1');
  const version = run('busctl', [
    '--system',
    'get-property',
    'org.freedesktop.systemd1',
    '/org/freedesktop/systemd1',
    'org.freedesktop.systemd1.Manager',
    'Version',
  ]);
  t.match(version, /^s "\d+/, "the manager's Version property, read over D-Bus");
});

t.test('the cgroup hierarchy is unified (v2 only)', { skip }, async (t) => {
  t.equal(fs.statfsSync('/sys/fs/cgroup').type, CGROUP2_SUPER_MAGIC, '/sys/fs/cgroup is cgroup2');
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  t.equal(lines.length, 1, 'one line in /proc/self/cgroup');
  t.match(lines[0], /^0::\/system\.slice\//, 'this test runs in a service of system.slice');
  t.notOk(fs.existsSync('/sys/fs/cgroup/unified'), 'no hybrid cgroup2 mount');
  const controllers = fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(' ');
  for (const c of ['cpu', 'io', 'memory', 'pids']) t.ok(controllers.includes(c), `controller ${c}`);
});

t.test('systemd-run --scope -p Delegate=yes lands in a delegated scope, which is gone after', { skip }, async (t) => {
  const unit = `tsr-guest-${randomBytes(4).toString('hex')}`;
  const scope = `${unit}.scope`;
  t.teardown(() => {
    spawnSync('systemctl', ['stop', scope], { timeout: 60_000 });
    spawnSync('systemctl', ['reset-failed', scope], { timeout: 60_000 });
  });
  // Inside the scope: where the process is, what systemd says of the unit, what the cgroup offers.
  const script = [
    'cat /proc/self/cgroup',
    `systemctl show -p Delegate --value ${scope}`,
    'cat "/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/cgroup.controllers"',
  ].join('; ');
  const out = run('systemd-run', ['--quiet', '--scope', '-p', 'Delegate=yes', `--unit=${unit}`, '--', 'sh', '-c', script])
    .trim()
    .split('\n');
  t.equal(out[0], `0::/system.slice/${scope}`, 'the process is in the scope, under system.slice');
  t.equal(out[1], 'yes', 'the unit has Delegate=yes');
  const offered = (out[2] ?? '').split(' ');
  for (const c of ['memory', 'pids']) t.ok(offered.includes(c), `the delegated cgroup offers ${c}`);
  const gone = await until(() => {
    const r = spawnSync('systemctl', ['show', '-p', 'LoadState', '--value', scope], { encoding: 'utf8', timeout: 60_000 });
    return r.stdout.trim() === 'not-found';
  }, 60_000, 200);
  t.ok(gone, 'the scope is unloaded once its process has exited');
});
