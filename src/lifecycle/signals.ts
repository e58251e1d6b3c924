/**
 * Signal names and numbers as `kill` accepts them: "TERM", "SIGTERM", "15", "sigkill", and "0",
 * which sends nothing and only asks whether the init lives (kill(2)'s signal 0; runc takes it too).
 */
import { RuntimeError } from '../errors';
import { SIGNALS } from '../plan/linux-constants';

export function parseSignal(input: string | undefined): number {
  if (input === undefined || input === '') return SIGNALS.SIGTERM;
  if (/^\d+$/.test(input)) {
    const n = Number(input);
    if (n >= 0 && n <= 64) return n;
    throw new RuntimeError(`unknown signal "${input}"`);
  }
  const upper = input.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const n = name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
    if (n >= 34 && n <= 64) return n;
    throw new RuntimeError(`unknown signal "${input}"`);
  }
  const n = SIGNALS[name];
  if (n === undefined) throw new RuntimeError(`unknown signal "${input}"`);
  return n;
}

export function signalName(n: number): string {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === n) return name;
  return `signal ${n}`;
}
