/**
 * Reading a bundle: <bundle>/config.json, parsed and validated (src/config/validate.ts).
 * Nothing on the host is looked at beyond the bundle directory and config.json; whether the
 * rootfs exists is checked elsewhere.
 */
import fs from 'fs';
import path from 'path';
import { InvalidConfigError } from '../errors';
import type { Spec } from '../generated/config';
import { validateSpec } from './validate';
import { validateSpec as specSchema } from '../generated/spec-validator';

export interface Bundle {
  /** The validated config.json. */
  spec: Spec;
  /** Absolute, symlink-free path of the bundle directory. */
  bundle: string;
  /** Absolute path of the root filesystem: spec.root.path resolved against the bundle. */
  rootfs: string;
}

/**
 * Load and validate <bundleDir>/config.json. Throws InvalidConfigError with one line per problem:
 *   "bundle /x: no such directory"
 *   "config.json: no such file in bundle /x"
 *   "config.json: invalid JSON at line 3, column 5: <JSON.parse message>"
 *   "config.json: /process/args: must NOT have fewer than 1 items"   (one line per problem)
 */
export function loadBundle(bundleDir: string): Bundle {
  const requested = path.resolve(bundleDir);
  let bundle: string;
  try {
    bundle = fs.realpathSync(requested);
  } catch (err) {
    throw new InvalidConfigError(`bundle ${requested}: ${describe(err, 'no such directory')}`);
  }
  let isDir = false;
  try {
    isDir = fs.statSync(bundle).isDirectory();
  } catch (err) {
    throw new InvalidConfigError(`bundle ${requested}: ${describe(err, 'no such directory')}`);
  }
  if (!isDir) throw new InvalidConfigError(`bundle ${requested}: not a directory`);

  const configPath = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InvalidConfigError(`config.json: no such file in bundle ${bundle}`);
    throw new InvalidConfigError(`config.json: cannot read ${configPath}: ${describe(err, 'read error')}`);
  }

  const doc = parseJson(text);
  const problems = validateSpec(doc, specSchema);
  if (problems.length > 0) {
    const lines = problems.map((p) => `config.json: ${p}`);
    throw new InvalidConfigError(lines.join('\n'), lines);
  }

  const spec = doc as Spec;
  return {
    spec,
    bundle,
    rootfs: path.resolve(bundle, spec.root.path),
  };
}

/** JSON.parse with an error that says where: "config.json: invalid JSON at line L, column C: ...". */
function parseJson(raw: string): unknown {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw; // tolerate a UTF-8 byte order mark
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = oneLine(err instanceof Error ? err.message : String(err));
    const offset = jsonErrorOffset(text);
    const where = offset < 0 ? '' : ` at ${lineColumn(text, offset)}`;
    throw new InvalidConfigError(`config.json: invalid JSON${where}: ${message}`);
  }
}

function oneLine(s: string): string {
  return s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
}

function lineColumn(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return `line ${line}, column ${offset - start + 1}`;
}

/**
 * Offset of the first syntax error in `text` per RFC 8259 (text.length for a truncated
 * document), or -1 when it is valid JSON. Only used to point at the error JSON.parse found.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(readonly at: number) {}
  }
  const fail = (at: number): never => {
    throw new Stop(Math.min(at, n));
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const digits = () => {
    const s = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') i++;
    if (i === s) fail(i);
  };
  const literal = (word: string) => {
    for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) fail(i);
  };
  const string = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) fail(n);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail(i);
      if (c === 0x5c) {
        i++;
        const e = text[i];
        if (e === 'u') {
          for (let k = 1; k <= 4; k++) if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) fail(i + k);
          i += 5;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
        else fail(i);
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    if (i >= n) fail(n);
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(i);
        string();
        ws();
        if (text[i] !== ':') fail(i);
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail(i);
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail(i);
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c >= '0' && c <= '9')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
    } else fail(i);
  };
  try {
    value();
    ws();
    if (i < n) fail(i);
    return -1;
  } catch (e) {
    return e instanceof Stop ? e.at : -1; // -1 also for a RangeError from absurd nesting
  }
}

function describe(err: unknown, enoent: string): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return enoent;
    case 'ENOTDIR':
      return 'not a directory';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return e?.code ?? (e instanceof Error ? e.message : String(err));
  }
}
