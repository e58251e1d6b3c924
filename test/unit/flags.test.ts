/** src/cli/flags.ts: runc's (urfave/cli's) argv conventions. */
import t from 'tap';
import { parseFlags, FlagSpecs } from '../../src/cli/flags';
import { GLOBAL_FLAGS } from '../../src/cli/main';
import { RuntimeError } from '../../src/errors';

const SPECS: FlagSpecs = {
  bundle: { type: 'string', alias: ['b'], describe: '', default: '.' },
  'pid-file': { type: 'string', describe: '' },
  detach: { type: 'bool', alias: ['d'], describe: '' },
  'preserve-fds': { type: 'number', describe: '', default: 0 },
  env: { type: 'list', alias: ['e'], describe: '' },
};

function error(argv: string[], specs = SPECS): string {
  try {
    parseFlags(argv, specs);
  } catch (e) {
    if (e instanceof RuntimeError) return `${e.message} (exit ${e.exitCode})`;
    throw e;
  }
  return '(no error)';
}

t.test('defaults', async (t) => {
  t.same(parseFlags([], SPECS), { flags: { bundle: '.', 'preserve-fds': 0, env: [] }, positionals: [] });
});

t.test('-flag and --flag, value as the next argument or after =', async (t) => {
  for (const argv of [
    ['--bundle', '/b', 'id'],
    ['-bundle', '/b', 'id'],
    ['--bundle=/b', 'id'],
    ['-bundle=/b', 'id'],
    ['-b', '/b', 'id'],
    ['--b=/b', 'id'],
  ]) {
    const p = parseFlags(argv, SPECS);
    t.equal(p.flags.bundle, '/b', argv.join(' '));
    t.same(p.positionals, ['id']);
  }
  t.equal(parseFlags(['--pid-file=a=b'], SPECS).flags['pid-file'], 'a=b', 'only the first = splits');
  t.equal(parseFlags(['--pid-file='], SPECS).flags['pid-file'], '', 'an empty value after =');
  t.equal(parseFlags(['--pid-file', '-x'], SPECS).flags['pid-file'], '-x', 'the next argument is the value even if it starts with -');
  t.equal(parseFlags(['--bundle', 'a', '--bundle', 'b'], SPECS).flags.bundle, 'b', 'the last one wins');
});

t.test('bool flags: present is true, =false/=0 is false, never consume the next argument', async (t) => {
  t.equal(parseFlags(['--detach'], SPECS).flags.detach, true);
  t.equal(parseFlags(['-d'], SPECS).flags.detach, true);
  t.equal(parseFlags(['--detach=true'], SPECS).flags.detach, true);
  t.equal(parseFlags(['--detach=false'], SPECS).flags.detach, false);
  t.equal(parseFlags(['-detach=0'], SPECS).flags.detach, false);
  t.equal(parseFlags(['--detach=FALSE'], SPECS).flags.detach, false);
  t.equal(parseFlags([], SPECS).flags.detach, undefined, 'absent and without default: undefined');
  const p = parseFlags(['--detach', 'id'], SPECS);
  t.same(p.positionals, ['id'], 'the argument after a bool flag is a positional');
});

t.test('number and list flags', async (t) => {
  t.equal(parseFlags(['--preserve-fds', '3'], SPECS).flags['preserve-fds'], 3);
  t.equal(parseFlags(['--preserve-fds=0'], SPECS).flags['preserve-fds'], 0);
  t.equal(error(['--preserve-fds', 'x']), 'invalid value "x" for flag -preserve-fds: not a whole number (exit 1)');
  t.equal(error(['--preserve-fds=1.5']), 'invalid value "1.5" for flag -preserve-fds: not a whole number (exit 1)');
  t.same(parseFlags(['-e', 'A=1', '--env', 'B=2', '--env=C=3'], SPECS).flags.env, ['A=1', 'B=2', 'C=3'], 'repeated');
  t.same(parseFlags([], SPECS).flags.env, [], 'empty list by default');
  t.not(parseFlags([], SPECS).flags.env, parseFlags([], SPECS).flags.env, 'a fresh list each time');
});

t.test('parsing stops at the first positional argument', async (t) => {
  const p = parseFlags(['--bundle', '/b', 'id', '--pid-file', 'x', '-d'], SPECS);
  t.same(p.positionals, ['id', '--pid-file', 'x', '-d'], 'flags after it are positionals (the command\'s arguments)');
  t.equal(p.flags['pid-file'], undefined);
  t.equal(p.flags.detach, undefined);
  t.same(parseFlags(['-', '-d'], SPECS).positionals, ['-', '-d'], '"-" alone is a positional');

  const all = parseFlags(['id', '--pid-file', 'x', 'more'], SPECS, false);
  t.same(all.positionals, ['id', 'more'], 'stopAtPositional=false: flags anywhere');
  t.equal(all.flags['pid-file'], 'x');
});

t.test('-- ends the flags', async (t) => {
  const p = parseFlags(['-d', '--', '--bundle', 'x'], SPECS);
  t.same(p.positionals, ['--bundle', 'x']);
  t.equal(p.flags.detach, true);
  t.equal(p.flags.bundle, '.');
  t.same(parseFlags(['--'], SPECS).positionals, []);
});

t.test('errors in runc\'s words', async (t) => {
  t.equal(error(['-x']), 'flag provided but not defined: -x (exit 1)');
  t.equal(error(['--x']), 'flag provided but not defined: -x (exit 1)', '--x is named -x, as urfave/cli does');
  t.equal(error(['--nope=1']), 'flag provided but not defined: -nope (exit 1)');
  t.equal(error(['--bundle']), 'flag needs an argument: -bundle (exit 1)');
  t.equal(error(['-b']), 'flag needs an argument: -b (exit 1)');
});

t.test('the global flags, as clients pass them', async (t) => {
  // containerd: --root R --log L --log-format json create ...
  const ctr = parseFlags(['--root', '/run/containerd/runc/default', '--log', '/b/log.json', '--log-format', 'json', 'create', '--bundle', '/b', 'c1'], GLOBAL_FLAGS);
  t.equal(ctr.flags.root, '/run/containerd/runc/default');
  t.equal(ctr.flags.log, '/b/log.json');
  t.equal(ctr.flags['log-format'], 'json');
  t.same(ctr.positionals, ['create', '--bundle', '/b', 'c1']);
  // podman: --log-format=json --log <file> create ...
  const podman = parseFlags(['--log-format=json', '--log', '/x/oci-log', 'create', '--bundle', '/ud', 'id'], GLOBAL_FLAGS);
  t.equal(podman.flags['log-format'], 'json');
  t.same(podman.positionals.slice(0, 1), ['create']);
  const defaults = parseFlags(['state', 'x'], GLOBAL_FLAGS);
  // No --root: main works the default out from who runs it (src/plan/caller-rules.ts defaultStateRoot).
  t.equal(defaults.flags.root, undefined);
  t.equal(defaults.flags.rootless, 'auto');
  t.equal(parseFlags(['--rootless', 'true', 'create'], GLOBAL_FLAGS).flags.rootless, 'true');
  t.equal(defaults.flags['log-format'], 'text');
  t.equal(parseFlags(['-v'], GLOBAL_FLAGS).flags.version, true);
  t.equal(parseFlags(['--systemd-cgroup', 'create'], GLOBAL_FLAGS).flags['systemd-cgroup'], true);
});
