// Unit tests for src/config/load-bundle.ts: bundles are temporary directories, nothing runs.
import t, { type Test } from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { jsonErrorOffset, loadBundle } from '../../src/config/load-bundle';
import { RuntimeError } from '../../src/errors';

const CONFIG = {
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/', env: ['PATH=/bin'] },
  hostname: 'box',
  mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }] },
};

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-load-bundle-'));
t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
const real = fs.realpathSync(base); // os.tmpdir() may itself be a symlink

let counter = 0;
/** A new bundle directory holding `config` (a string is written as is), without a rootfs. */
function bundleWith(config: unknown): string {
  const dir = path.join(real, `b${++counter}`);
  fs.mkdirSync(dir);
  if (config !== undefined) {
    fs.writeFileSync(path.join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  }
  return dir;
}

/** The RuntimeError message loadBundle throws for `dir`. */
function failure(t: Test, dir: string): string {
  try {
    loadBundle(dir);
  } catch (err) {
    t.type(err, RuntimeError);
    t.equal((err as RuntimeError).exitCode, 1);
    return (err as Error).message;
  }
  t.fail('loadBundle did not throw');
  return '';
}

t.test('a valid bundle', async (t) => {
  const dir = bundleWith(CONFIG);
  const b = loadBundle(dir);
  t.strictSame(b.spec, CONFIG);
  t.equal(b.bundle, dir);
  t.equal(b.rootfs, path.join(dir, 'rootfs'));
});

t.test('bundle path is made absolute and symlink-free', async (t) => {
  const dir = bundleWith(CONFIG);
  const link = path.join(real, `link${counter}`);
  fs.symlinkSync(dir, link);
  const b = loadBundle(link);
  t.equal(b.bundle, dir);
  t.equal(b.rootfs, path.join(dir, 'rootfs'));

  const cwd = process.cwd();
  process.chdir(real);
  t.teardown(() => process.chdir(cwd));
  t.equal(loadBundle(path.basename(dir)).bundle, dir, 'relative to the working directory');
});

t.test('rootfs: absolute root.path is kept, relative ones resolve against the bundle', async (t) => {
  t.equal(loadBundle(bundleWith({ ...CONFIG, root: { path: '/srv/images/alpine' } })).rootfs, '/srv/images/alpine');
  const dir = bundleWith({ ...CONFIG, root: { path: '../shared/rootfs/' } });
  t.equal(loadBundle(dir).rootfs, path.join(real, 'shared', 'rootfs'));
});

t.test('a UTF-8 byte order mark is tolerated', async (t) => {
  const dir = bundleWith('\ufeff' + JSON.stringify(CONFIG));
  t.equal(loadBundle(dir).spec.hostname, 'box');
});

t.test('missing bundle directory', async (t) => {
  const dir = path.join(real, 'does-not-exist');
  t.equal(failure(t, dir), `bundle ${dir}: no such directory`);
});

t.test('bundle that is a file', async (t) => {
  const file = path.join(real, 'plain-file');
  fs.writeFileSync(file, '{}');
  t.equal(failure(t, file), `bundle ${file}: not a directory`);
});

t.test('missing config.json', async (t) => {
  const dir = bundleWith(undefined);
  t.equal(failure(t, dir), `config.json: no such file in bundle ${dir}`);
});

t.test('config.json that is a directory', async (t) => {
  const dir = bundleWith(undefined);
  fs.mkdirSync(path.join(dir, 'config.json'));
  t.equal(failure(t, dir), `config.json: cannot read ${path.join(dir, 'config.json')}: is a directory`);
});

t.test('invalid JSON: parser message with line and column, on one line', async (t) => {
  const trailingComma = bundleWith('{\n  "ociVersion": "1.0.0",\n  "root": {"path": "rootfs"},\n}\n');
  t.equal(
    failure(t, trailingComma),
    'config.json: invalid JSON at line 4, column 1: Expected double-quoted property name in JSON at position 57',
  );

  const empty = bundleWith('');
  t.equal(failure(t, empty), 'config.json: invalid JSON at line 1, column 1: Unexpected end of JSON input');

  const truncated = bundleWith('{\n  "ociVersion": "1.0.0",\n  "root": {\n');
  t.match(failure(t, truncated), /^config\.json: invalid JSON at line 4, column 1: /);

  // V8 quotes the text in this message; it contains a newline that must not split the line.
  const badToken = bundleWith('{\n "a": }');
  const msg = failure(t, badToken);
  t.match(msg, /^config\.json: invalid JSON at line 2, column 7: Unexpected token/);
  t.notMatch(msg, /\n/);

  const garbage = bundleWith('{"ociVersion": "1.0.0"} trailing');
  t.match(failure(t, garbage), /^config\.json: invalid JSON at line 1, column 25: /);
});

t.test('validation errors: one line per problem, each prefixed', async (t) => {
  const dir = bundleWith({ ...CONFIG, process: { ...CONFIG.process, args: [], cwd: 'tmp' }, linux: { namespaces: [{ type: 'pids' }] } });
  t.equal(
    failure(t, dir),
    [
      'config.json: /process/args: must NOT have fewer than 1 items',
      'config.json: /linux/namespaces/0/type: must be equal to one of the allowed values (pid, network, mount, ipc, uts, user, cgroup, time)',
      'config.json: /process/cwd: must be an absolute path (got "tmp")',
    ].join('\n'),
  );
});

t.test('missing root is a validation error naming root', async (t) => {
  const { root: _root, ...noRoot } = CONFIG;
  t.equal(failure(t, bundleWith(noRoot)), "config.json: /: must have required property 'root'");
  t.equal(failure(t, bundleWith({ ...CONFIG, root: {} })), "config.json: /root: must have required property 'path'");
});

t.test('JSON that is not an object', async (t) => {
  t.equal(failure(t, bundleWith('[1, 2]')), 'config.json: /: must be object');
  t.equal(failure(t, bundleWith('null')), 'config.json: /: must be object');
});

t.test('jsonErrorOffset', async (t) => {
  const cases: [string, number][] = [
    ['{}', -1],
    [' [1, -2.5e+3, "x\\u00e9", true, false, null, {"a": {}}] ', -1],
    ['', 0],
    ['{', 1],
    ['{"a":}', 5],
    ['{"a":1,}', 7],
    ['[1,]', 3],
    ['[01]', 2],
    ['"\\x"', 2],
    ['"a\nb"', 2],
    ['tru', 3],
    ['{} {}', 3],
    ['1.', 2],
    ['{"a" 1}', 5],
  ];
  for (const [text, offset] of cases) t.equal(jsonErrorOffset(text), offset, JSON.stringify(text));
  t.equal(jsonErrorOffset('['.repeat(200000)), -1, 'absurd nesting: no position rather than a crash');
});
