/** --dry-run on create, run and exec: the launch plan is printed and nothing is made on the host. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { NEEDS_ROOT, Sandbox, cgroupRoots, leftovers } from '../helpers/runtime';

const cgroupsOf = (id: string) => cgroupRoots().filter((base) => fs.existsSync(path.join(base, 'tsruntime', id)));

t.test('create --dry-run prints the plan and makes nothing', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'echo hi'], (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }));
  const mountsBefore = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const text = sb.tsr(['create', '--dry-run', '--bundle', bundle, id]);
  t.equal(text.status, 0, text.stderr);
  t.match(text.stdout, /^new namespaces: .*mount/m, 'the namespaces it would be cloned into');
  t.match(text.stdout, /^\s+\d+  mount proc on \/proc$/m, 'each step, numbered');
  t.match(text.stdout, /^\s+\d+  set sysctl net\.ipv4\.ip_forward=1$/m);
  t.match(text.stdout, /^\s+\d+  pivot_root into /m);
  t.match(text.stdout, /^\s+\d+  exec "sh"$/m);
  const json = sb.tsr(['create', '--dry-run', '--format', 'json', '--bundle', bundle, id]);
  t.equal(json.status, 0, json.stderr);
  const view = JSON.parse(json.stdout);
  t.ok(view.newNamespaces.includes('pid'));
  t.same(view.steps.find((s: { op: string }) => s.op === 'WAIT_FIFO')?.args, ['<exec-fifo>'], 'the exec fifo, made only by a real create, shows as its slot');
  t.same(leftovers(sb, id, bundle), [], 'no state dir, mount, cgroup or process');
  t.same(cgroupsOf(id), []);
  t.notOk(fs.existsSync(sb.root) && fs.readdirSync(sb.root).length > 0, 'the state root holds nothing');
  t.equal(fs.readFileSync('/proc/self/mountinfo', 'utf8'), mountsBefore, 'the host mounts are as they were');
  const run = sb.tsr(['run', '--dry-run', '--bundle', bundle, id]);
  t.equal(run.status, 0, run.stderr);
  t.match(run.stdout, /exec "sh"/, 'run --dry-run too');
  t.same(leftovers(sb, id, bundle), []);
});

t.test('create --dry-run of an invalid config: the error, and still nothing made', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['true'], (s) => s.mounts.push({ destination: '/proc/sys', type: 'tmpfs', source: 'tmpfs' }));
  const r = sb.tsr(['create', '--dry-run', '--bundle', bundle, id]);
  t.not(r.status, 0);
  t.match(r.stderr, /cannot be mounted because it is inside \/proc/);
  t.equal(r.stdout, '', 'no plan');
  t.same(leftovers(sb, id, bundle), []);
});

t.test('exec --dry-run plans the process without spawning it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '60']);
  t.equal(sb.tsr(['run', '--detach', '--bundle', bundle, id]).status, 0);
  const procsBefore = sb.tsr(['ps', '--format', 'json', id]).stdout;
  const r = sb.tsr(['exec', '--dry-run', id, 'echo', 'hi']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /join the container's mount namespace/);
  t.match(r.stdout, /exec "echo"/);
  t.equal(sb.tsr(['ps', '--format', 'json', id]).stdout, procsBefore, 'no new process in the container');
  t.equal(sb.tsr(['exec', '--dry-run', '--format', 'yaml', id, 'true']).status, 1, 'an unknown format is an error');
});
