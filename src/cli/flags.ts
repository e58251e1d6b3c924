/**
 * A small argv parser with runc's (urfave/cli's) conventions: flags before positional
 * arguments, `--flag value`, `--flag=value`, `-flag` for long names, repeated string-list
 * flags, and parsing stops at the first positional argument or `--`. It is hand-written
 * because yargs costs 2–4× Node's start-up on commands that must be fast; yargs is loaded for
 * `--help` only.
 */
import { RuntimeError } from '../errors';

export type FlagType = 'bool' | 'string' | 'number' | 'list';

export interface FlagSpec {
  type: FlagType;
  describe: string;
  alias?: string[];
  default?: unknown;
}
export type FlagSpecs = Record<string, FlagSpec>;

export interface Parsed {
  flags: Record<string, unknown>;
  positionals: string[];
}

export function parseFlags(argv: readonly string[], specs: FlagSpecs, stopAtPositional = true): Parsed {
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(name, name);
    for (const a of spec.alias ?? []) byName.set(a, name);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.default !== undefined) flags[name] = spec.default;
    else if (spec.type === 'list') flags[name] = [];
  }
  const positionals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      if (stopAtPositional) {
        i++;
        break;
      }
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const name = byName.get(key);
    if (!name) throw new RuntimeError(`flag provided but not defined: -${key}`);
    const spec = specs[name];
    let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (spec.type === 'bool') {
      flags[name] = value === undefined ? true : !/^(false|0|no)$/i.test(value);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new RuntimeError(`flag needs an argument: -${key}`);
      value = argv[++i];
    }
    if (spec.type === 'number') {
      if (!/^-?\d+$/.test(value)) throw new RuntimeError(`invalid value "${value}" for flag -${key}: not a whole number`);
      flags[name] = Number(value);
    } else if (spec.type === 'list') {
      (flags[name] as string[]).push(value);
    } else flags[name] = value;
  }
  positionals.push(...argv.slice(i));
  return { flags, positionals };
}
