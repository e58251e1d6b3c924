/** runtime.md: what create applies, what it must not, and errors that leave nothing behind. */
import fs from 'fs';
import path from 'path';
import { execFileSync } from 'child_process';
import { clause, hostNs } from './clause';
import { probeBundle } from '../test/helpers/probe';
import { leftovers } from '../test/helpers/runtime';

clause('runtime.md', 'create', 'All of the properties configured in config.json except for process MUST be applied', (t, sb) => {
  const bundle = probeBundle(sb, [], (s) => {
    s.hostname = 'applied-at-create';
    s.mounts.push({ destination: '/created-mount', type: 'tmpfs', source: 'created-tmpfs' });
  });
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const pid = sb.state(id).pid;
  t.not(fs.readlinkSync(`/proc/${pid}/ns/uts`), hostNs('uts'), 'the uts namespace exists');
  t.equal(execFileSync('nsenter', ['-t', String(pid), '-u', 'hostname'], { encoding: 'utf8' }).trim(), 'applied-at-create', 'the hostname is set');
  t.match(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'), / \/created-mount .* - tmpfs created-tmpfs /, 'the mounts are made');
});

clause('runtime.md', 'create', 'process.args MUST NOT be applied until triggered by the start operation', (t, sb) => {
  const marker = path.join(sb.dir, 'marker');
  fs.mkdirSync(marker);
  const bundle = sb.bundle(['touch', '/marker/ran'], (s) => s.mounts.push({ destination: '/marker', type: 'bind', source: marker, options: ['bind'] }));
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  t.notOk(fs.existsSync(path.join(marker, 'ran')), 'not run after create');
  t.equal(sb.state(id).status, 'created');
  t.equal(sb.tsr(['start', id]).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'), 'runs to the end after start');
  t.ok(fs.existsSync(path.join(marker, 'ran')), 'ran after start');
});

clause('runtime.md', 'create', 'Any updates to config.json after this step MUST NOT affect the container', (t, sb) => {
  const marker = path.join(sb.dir, 'marker-upd');
  fs.mkdirSync(marker);
  const bundle = sb.bundle(['sh', '-c', 'echo original > /marker/out'], (s) => s.mounts.push({ destination: '/marker', type: 'bind', source: marker, options: ['bind'] }));
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const cfgPath = path.join(bundle, 'config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  cfg.process.args = ['sh', '-c', 'echo changed > /marker/out'];
  fs.writeFileSync(cfgPath, JSON.stringify(cfg));
  t.equal(sb.tsr(['start', id]).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'));
  t.equal(fs.readFileSync(path.join(marker, 'out'), 'utf8'), 'original\n', 'the process of create time ran');
});

clause('runtime.md', 'create', 'If the runtime cannot apply a property as specified in the configuration, it MUST generate an error and a new container MUST NOT be created', (t, sb) => {
  const cases: Array<[string, (s: Record<string, any>) => void]> = [
    ['an unknown filesystem type', (s) => s.mounts.push({ destination: '/x', type: 'no-such-fs', source: 'x' })],
    ['a device that conflicts with a file', (s) => (s.linux.devices = [{ path: '/etc/passwd', type: 'c', major: 1, minor: 3 }])],
    ['an rlimit above what the runtime may raise', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }])],
    ['a sysctl the kernel refuses', (s) => (s.linux.sysctl = { 'net.ipv4.no_such_key': '1' })],
  ];
  for (const [name, edit] of cases) {
    const bundle = sb.bundle(['true'], edit);
    const id = sb.id();
    const r = sb.tsr(['create', '--bundle', bundle, id]);
    t.equal(r.status, 1, `${name}: create fails (${r.stderr.trim()})`);
    t.match(sb.tsr(['state', id]).stderr, /does not exist/, `${name}: no container`);
    t.same(leftovers(sb, id, bundle), [], `${name}: nothing left behind`);
  }
});
