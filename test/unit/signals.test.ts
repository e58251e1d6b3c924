/** Signal names and numbers as `kill` takes them, and wait statuses as `run` reports them. */
import t from 'tap';
import { parseSignal, signalName } from '../../src/lifecycle/signals';
import { exitCodeOf } from '../../src/lifecycle/wait';
import { RuntimeError } from '../../src/errors';

function error(input: string): string {
  try {
    parseSignal(input);
  } catch (e) {
    if (e instanceof RuntimeError) return e.message;
    throw e;
  }
  return '(no error)';
}

t.test('default is SIGTERM', async (t) => {
  t.equal(parseSignal(undefined), 15);
  t.equal(parseSignal(''), 15);
});

t.test('names with or without SIG, any case', async (t) => {
  for (const [input, n] of [
    ['KILL', 9], ['SIGKILL', 9], ['kill', 9], ['sigkill', 9], ['SigKill', 9],
    ['TERM', 15], ['HUP', 1], ['INT', 2], ['QUIT', 3], ['USR1', 10], ['SIGUSR2', 12],
    ['STOP', 19], ['CONT', 18], ['WINCH', 28], ['PIPE', 13], ['CHLD', 17],
  ] as const) {
    t.equal(parseSignal(input), n, `${input} = ${n}`);
  }
});

t.test('numbers 0..64 (0: no signal, whether the init lives)', async (t) => {
  t.equal(parseSignal('0'), 0);
  t.equal(parseSignal('9'), 9);
  t.equal(parseSignal('15'), 15);
  t.equal(parseSignal('1'), 1);
  t.equal(parseSignal('64'), 64);
  t.equal(error('65'), 'unknown signal "65"');
  t.equal(error('-9'), 'unknown signal "-9"');
  t.equal(error('9x'), 'unknown signal "9x"');
});

t.test('real-time signals', async (t) => {
  t.equal(parseSignal('SIGRTMIN'), 34);
  t.equal(parseSignal('RTMIN'), 34);
  t.equal(parseSignal('rtmin+3'), 37);
  // systemd's halt, as `podman stop` sends a systemd container: every spelling runc takes.
  for (const input of ['SIGRTMIN+3', 'RTMIN+3', '37']) t.equal(parseSignal(input), 37, `${input} = 37`);
  t.equal(parseSignal('SIGRTMAX'), 64);
  t.equal(parseSignal('SIGRTMAX-2'), 62);
  t.equal(parseSignal('SIGRTMIN+30'), 64);
  t.equal(error('SIGRTMIN+31'), 'unknown signal "SIGRTMIN+31"', 'beyond SIGRTMAX');
  t.equal(error('SIGRTMAX-31'), 'unknown signal "SIGRTMAX-31"', 'below SIGRTMIN');
});

t.test('unknown names', async (t) => {
  t.equal(error('SIGNOPE'), 'unknown signal "SIGNOPE"');
  t.equal(error('NOPE'), 'unknown signal "NOPE"');
  t.equal(error('SIG'), 'unknown signal "SIG"');
  t.equal(error('SIGKILL '), 'unknown signal "SIGKILL "');
});

t.test('signalName', async (t) => {
  t.equal(signalName(9), 'SIGKILL');
  t.equal(signalName(15), 'SIGTERM');
  t.equal(signalName(99), 'signal 99');
});

t.test('exitCodeOf: exit code, or 128+signal, as a shell reports it', async (t) => {
  t.equal(exitCodeOf(0), 0);
  t.equal(exitCodeOf(3 << 8), 3);
  t.equal(exitCodeOf(255 << 8), 255);
  t.equal(exitCodeOf(9), 137, 'SIGKILL');
  t.equal(exitCodeOf(15), 143, 'SIGTERM');
  t.equal(exitCodeOf(6 | 0x80), 134, 'SIGABRT with a core dump');
  t.equal(exitCodeOf(-10), 255, 'a wait error');
});
