/** runc's CLI contract: global flags, logs, version, help, spec, features, lazy loading. */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, PROJECT, Sandbox, NEEDS_ROOT } from '../helpers/runtime';
import { OCI_VERSION } from '../../src/spec/version';

t.test('--log --log-format json: one JSON object per line, as containerd and Podman read it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const log = path.join(sb.dir, 'log.json');
  const r = sb.tsr(['--log', log, '--log-format', 'json', 'state', 'missing-one']);
  t.equal(r.status, 1);
  t.equal(r.stderr, 'tsruntime: container missing-one does not exist\n', 'one line on stderr');
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]);
  t.equal(entry.level, 'error');
  t.equal(entry.msg, 'container missing-one does not exist');
  t.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'RFC3339 time');

  const text = path.join(sb.dir, 'log.txt');
  sb.tsr(['--log', text, 'kill', 'missing-two']);
  t.match(fs.readFileSync(text, 'utf8'), /^time="[^"]+" level=error msg="container missing-two does not exist"\n$/, 'text format like logrus');
  const bad = sb.tsr(['--log-format', 'xml', 'list']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /invalid log-format: xml/);
});

t.test('--version, --help, unknown commands and flags', async (t) => {
  const v = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  t.equal(v.status, 0);
  t.equal(v.stdout.split('\n')[1], `spec: ${OCI_VERSION}`);
  t.match(v.stdout, /^tsruntime version \d+\.\d+\.\d+\nspec: \S+\n$/);
  const h = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
  t.equal(h.status, 0);
  for (const cmd of ['create', 'start', 'state', 'kill', 'delete', 'run', 'exec', 'list', 'spec', 'features']) t.match(h.stdout, new RegExp(`\\b${cmd}\\b`));
  const ch = spawnSync(BIN, ['create', '--help'], { encoding: 'utf8' });
  t.match(ch.stdout, /--pid-file/);
  t.match(ch.stdout, /--console-socket/);
  const u = spawnSync(BIN, ['frobnicate'], { encoding: 'utf8' });
  t.equal(u.status, 1);
  t.match(u.stderr, /no such command: frobnicate/);
  const f = spawnSync(BIN, ['delete', '--nope', 'x'], { encoding: 'utf8' });
  t.equal(f.status, 1);
  t.match(f.stderr, /flag provided but not defined: -nope/);
  const sd = spawnSync(BIN, ['--systemd-cgroup', '--root', '/run/tsruntime-test-none', 'create', '--bundle', '/nonexistent', 'x'], { encoding: 'utf8' });
  t.equal(sd.status, 1);
});

t.test('bin/tsruntime works through a link from elsewhere, and node sees neither NODE_OPTIONS nor NODE_EXTRA_CA_CERTS', async (t) => {
  // Engines call the runtime by an absolute path that may be a link (npm's .bin, /usr/local/bin).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-launcher-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const link = path.join(dir, 'runtime');
  fs.symlinkSync(BIN, link);
  const marker = path.join(dir, 'preloaded');
  const preload = path.join(dir, 'preload.js');
  fs.writeFileSync(preload, `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`);
  const env = { ...process.env, NODE_OPTIONS: `--require ${preload}`, NODE_EXTRA_CA_CERTS: path.join(dir, 'missing.pem') };
  const r = spawnSync(link, ['--version'], { encoding: 'utf8', env });
  t.equal(r.status, 0);
  t.match(r.stdout, /^tsruntime version /);
  t.equal(r.stderr, '', 'no "Ignoring extra certs" warning: node never read NODE_EXTRA_CA_CERTS');
  t.notOk(fs.existsSync(marker), 'the NODE_OPTIONS preload never ran');
  // Everything else reaches node as it was: the rest of the environment, and every argument.
  const debug = spawnSync(link, ['--version'], { encoding: 'utf8', env: { ...env, NODE_DEBUG: 'module' } });
  t.match(debug.stderr, /MODULE \d+: /, 'NODE_DEBUG reached node');
  const odd = path.join(dir, 'a bundle: with "quotes", spaces and é');
  fs.mkdirSync(odd);
  t.equal(spawnSync(link, ['spec', '--bundle', odd], { env }).status, 0);
  t.ok(fs.existsSync(path.join(odd, 'config.json')), 'an argument with spaces, quotes and UTF-8 arrived whole');
});

t.test("containerd's second delete: the launcher answers `delete --force` of a gone id as Node does", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-gone-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const root = path.join(dir, 'root');
  const log = path.join(dir, 'log.json');
  fs.mkdirSync(root);
  // What a create with a seccomp profile keeps under --root: no reason to leave the call to Node.
  fs.mkdirSync(path.join(root, '@seccomp'));
  // Node through bin/tsruntime's own node and flags, but not through the launcher.
  const flags = JSON.parse(fs.readFileSync(path.join(PROJECT, 'scripts', 'node-flags.json'), 'utf8')) as string[];
  const entry = path.join(PROJECT, 'dist', 'src', 'cli', 'entry.js');
  const nodeEnv = { ...process.env };
  delete nodeEnv.NODE_OPTIONS;
  delete nodeEnv.NODE_EXTRA_CA_CERTS;
  const viaNode = (args: string[]) => spawnSync(process.execPath, [...flags, entry, ...args], { encoding: 'utf8', env: nodeEnv });
  const viaLauncher = (args: string[]) => spawnSync(BIN, args, { encoding: 'utf8' });
  // With 32 MiB of address space node cannot even map itself: an answer there is the launcher's.
  const launcherAlone = (args: string[]) => spawnSync('/bin/sh', ['-c', 'ulimit -v 32768 && exec "$@"', 'sh', BIN, ...args], { encoding: 'utf8' });
  const entries = () => fs.readdirSync(dir).sort().join(' ') + ' | ' + fs.readdirSync(root).sort().join(' ');
  const same = (args: string[], what: string) => {
    const before = entries();
    const n = viaNode(args);
    t.equal(entries(), before, `${what}: Node makes and removes nothing`);
    const l = viaLauncher(args);
    t.same([l.status, l.stdout, l.stderr], [n.status, n.stdout, n.stderr], `${what}: the same exit, stdout and stderr both ways`);
    t.equal(entries(), before, `${what}: nor does the launcher`);
    return n;
  };

  const answered: [string[], string][] = [
    [['--root', root, '--log', log, '--log-format', 'json', 'delete', '--force', 'gone'], "the shim's call"],
    [[`--root=${root}`, `--log=${log}`, '--log-format=text', 'delete', '-f', 'gone.1_a+b-c'], '= forms and -f'],
    [['--root', path.join(dir, 'no-root'), 'delete', '--force', 'gone'], 'a root that does not exist'],
    // go-runc adds these to every call when the shim is so configured (Kubernetes on systemd: the first).
    [['--root', root, '--log', log, '--log-format', 'json', '--criu', 'criu', '--systemd-cgroup', '--rootless=false', 'delete', '--force', 'gone'], 'the systemd driver'],
  ];
  for (const [args, what] of answered) {
    t.equal(same(args, what).status, 0, `${what}: exit 0`);
    const alone = launcherAlone(args);
    t.same([alone.status, alone.stdout, alone.stderr], [0, '', ''], `${what}: answered without Node`);
  }

  // Every other shape goes to Node, which must start (and here cannot).
  fs.mkdirSync(path.join(root, 'left'));
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(root, 'dangling'));
  const passed: [string[], string][] = [
    [['--root', root, 'delete', 'gone'], 'without --force'],
    [['--root', root, '--root', root, 'delete', '--force', 'gone'], 'a repeated flag'],
    [['--root', root, '--log-format', 'xml', 'delete', '--force', 'gone'], 'a bad log format'],
    [['--root', root, '--rootless', 'maybe', 'delete', '--force', 'gone'], 'a bad --rootless'],
    [['--root', root, 'delete', '--force', '..'], 'an id Node refuses'],
    [['--root', root, 'delete', '--force', 'gone', 'extra'], 'an extra argument'],
    [['--root', root, '--debug', 'delete', '--force', 'gone'], 'another global flag'],
    [['delete', '--force', 'gone'], 'the default root'],
    [['--root', root, 'delete', '--force', 'dangling'], 'an entry of another kind'],
    [['--root', root, 'delete', '--force', 'left'], 'a directory'],
  ];
  for (const [args, what] of passed) t.not(launcherAlone(args).status, 0, `${what}: left to Node`);
  // (--debug's lines hold times, which differ: that one is not compared)
  for (const [args, what] of passed.slice(0, 6)) same(args, what);
  const left = viaLauncher(['--root', root, 'delete', '--force', 'left']);
  t.equal(left.status, 0, left.stderr);
  t.notOk(fs.existsSync(path.join(root, 'left')), 'Node removed the directory the launcher left to it');

  // A create killed before it claimed its id leaves its temporary entry, and `delete --force` of
  // that id is how it is cleaned up: Node's delete sweeps the entries of dead runtimes. (No pid
  // is above the kernel's largest pid_max, 2^22.)
  const dead = path.join(root, `@new.${2 ** 22 + 1}.1.1`);
  fs.mkdirSync(dead);
  const shim = ['--root', root, '--log', log, '--log-format', 'json', 'delete', '--force', 'gone'];
  t.not(launcherAlone(shim).status, 0, "a dead runtime's temporary entry: left to Node");
  t.equal(viaLauncher(shim).status, 0);
  t.notOk(fs.existsSync(dead), "Node swept the dead runtime's entry");
  t.equal(launcherAlone(shim).status, 0, 'and the next such call is answered without Node again');
});

t.test('bin/tsruntime runs the node it was built with, whatever PATH the caller has', async (t) => {
  // An engine's PATH is its service's: a node from nvm or /opt is not on it.
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^tsruntime version /);
  const st = spawnSync(BIN, ['--root', '/run/tsruntime-test-none', 'state', 'nope'], { encoding: 'utf8', env: { PATH: '/nonexistent' } });
  t.match(st.stderr, /container nope does not exist/, 'a command runs too');
});

t.test('spec writes runc-shaped config.json and refuses to overwrite', async (t) => {
  const sb = new Sandbox(t);
  const dir = fs.mkdtempSync(path.join(sb.dir, 'spec-'));
  t.equal(spawnSync(BIN, ['spec', '--bundle', dir]).status, 0);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  t.equal(spec.process.terminal, true);
  t.same(spec.process.args, ['sh']);
  t.equal(spec.root.path, 'rootfs');
  const again = spawnSync(BIN, ['spec', '--bundle', dir], { encoding: 'utf8' });
  t.equal(again.status, 1);
  t.match(again.stderr, /File config.json exists. Remove it first/);
});

t.test('features (runtime-spec features.md)', async (t) => {
  const r = spawnSync(BIN, ['features'], { encoding: 'utf8' });
  t.equal(r.status, 0);
  const f = JSON.parse(r.stdout);
  t.equal(f.ociVersionMin, '1.0.0');
  t.equal(f.ociVersionMax, OCI_VERSION, 'the runtime-spec version it implements');
  t.ok(f.hooks.includes('createRuntime') && f.hooks.includes('poststop'));
  t.ok(f.mountOptions.includes('rbind') && f.mountOptions.includes('rro'));
  t.same(f.linux.namespaces, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'], 'every namespace type, time included');
  t.ok(f.linux.capabilities.includes('CAP_SYS_ADMIN'));
  t.same(f.linux.cgroup, { v1: true, v2: true, systemd: true, systemdUser: false }, "the systemd driver (--systemd-cgroup), not systemd's user instance");
});

t.test('list formats', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const empty = sb.tsr(['list', '--format', 'json']);
  t.same(JSON.parse(empty.stdout), []);
  t.match(sb.tsr(['list']).stdout, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n$/);
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', sb.bundle(['sleep', '300']), id]).status, 0);
  t.equal(sb.tsr(['list', '-q']).stdout, `${id}\n`);
  t.match(sb.tsr(['list']).stdout, new RegExp(`\\n${id}\\s+\\d+\\s+created\\s+`));
});

t.test('start, state, kill and delete load neither yargs, ajv nor koffi', { skip: NEEDS_ROOT }, async (t) => {
  // Start-up cost matters: these run on every container operation of a client.
  const probe = `
    const Module = require('module');
    const seen = new Set();
    const orig = Module._load;
    Module._load = function (req, ...rest) { seen.add(req); return orig.call(this, req, ...rest); };
    process.on('exit', () => { require('fs').writeSync(3, JSON.stringify([...seen])); });
  `;
  const sb = new Sandbox(t);
  const preload = path.join(sb.dir, 'probe.js');
  fs.writeFileSync(preload, probe);
  const main = path.join(PROJECT, 'dist', 'src', 'cli', 'entry.js');
  for (const args of [['state', 'x'], ['kill', 'x'], ['start', 'x'], ['delete', 'x'], ['list']]) {
    const out = path.join(sb.dir, 'modules.json');
    const fd = fs.openSync(out, 'w');
    spawnSync(process.execPath, ['-r', preload, main, '--root', sb.root, ...args], { stdio: ['ignore', 'ignore', 'ignore', fd] });
    fs.closeSync(fd);
    const loaded: string[] = JSON.parse(fs.readFileSync(out, 'utf8'));
    const heavy = loaded.filter((m) => /(^|\/)(yargs|ajv|koffi)(\/|$)|generated\/\w+-validator|native\/shim/.test(m));
    t.same(heavy, [], `${args[0]} loads no heavy module`);
  }
});
