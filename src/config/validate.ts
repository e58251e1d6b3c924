/**
 * Validation of config.json and of `exec --process` documents.
 *
 * Two layers:
 *  1. the JSON Schemas in schemas/, run through validators precompiled at build time
 *     (scripts/gen-validators.js), whose ajv errors are turned into one readable line each;
 *  2. a few shape rules a schema cannot express (relative cwd, NUL bytes, NAME=VALUE env entries,
 *     ...). Rules that relate fields to each other (namespaces and what needs them, id mappings,
 *     sysctls, time offsets, memory policy, seccomp notify, rlimits, scheduler, ...) are the plan's (src/plan/): they
 *     run once, before anything is made, with runc's wording; the deprecation warnings too.
 *
 * Every message has the form "<JSON pointer>: <problem>", the pointer being "/" for the document
 * itself, e.g. "/process/args: must NOT have fewer than 1 items".
 */
import type { ValidateFunction, ValidationError } from '../generated/validator-types';
import type { Process, Spec } from '../generated/config';

export type { ValidationError };

/*
 * The schema's validator is the caller's to give (src/generated/spec-validator for a config,
 * process-validator for a process): each is a module of its own, and a command bundles and loads
 * only the one it imports (config.json's is 145 KiB of code; exec never needs it).
 */

/** Problems with a whole config.json document, checked by schema (spec-validator); empty when it is valid. */
export function validateSpec(doc: unknown, schema: ValidateFunction<Spec>): string[] {
  const problems = schema(doc) ? [] : formatErrors(schema.errors ?? []);
  if (isObject(doc)) problems.push(...specSemantics(doc));
  return dedupe(problems);
}

/** Problems with a process document (the object given to `exec --process`), checked by schema (process-validator); empty when it is valid. */
export function validateProcess(doc: unknown, schema: ValidateFunction<Process>): string[] {
  const problems = schema(doc) ? [] : formatErrors(schema.errors ?? []);
  if (isObject(doc)) problems.push(...processSemantics(doc, ''));
  return dedupe(problems);
}

// ---------------------------------------------------------------------------------------------
// ajv errors -> messages

/**
 * One line per problem, in the order ajv reported them:
 *  - "<instancePath or />: <ajv message>", with the allowed values added to enum errors, the
 *    property named for additionalProperties, the bad name for propertyNames;
 *  - the "must match "then" schema" line of if/then is dropped (the `then` failure is reported);
 *  - anyOf/oneOf cascades are reduced to the errors of the branch the value was meant for
 *    (the one whose type matches), or to one "must be X or Y" line when no branch's type matches.
 */
export function formatErrors(errors: readonly ValidationError[]): string[] {
  const lines: string[] = [];
  for (const e of collapseCombinators(errors)) {
    const line = formatOne(e);
    if (line !== null) lines.push(line);
  }
  return dedupe(lines);
}

function formatOne(e: ValidationError): string | null {
  const where = e.instancePath === '' ? '/' : e.instancePath;
  const p = e.params ?? {};
  let msg = e.message ?? `must satisfy ${e.keyword}`;
  switch (e.keyword) {
    case 'if':
    case 'propertyNames': // the failing name is reported by the error nested under it
      return null;
    case 'enum':
      msg += ` (${(p.allowedValues as unknown[]).map(show).join(', ')})`;
      break;
    case 'const':
      msg = `must be ${show(p.allowedValue)}`;
      break;
    case 'additionalProperties':
      msg = `must NOT have additional property '${p.additionalProperty}'`;
      break;
    case 'type':
      msg = `must be ${String(p.type).split(',').join(' or ')}`;
      break;
  }
  if (typeof e.propertyName === 'string') msg = `property name '${e.propertyName}' ${msg}`;
  return `${where}: ${msg}`;
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const COMBINATOR = /\/(anyOf|oneOf)$/;

function collapseCombinators(input: readonly ValidationError[]): ValidationError[] {
  let errors = [...input];
  // Innermost combinators first, so an outer one sees its branches already reduced.
  const combinators = errors
    .filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && COMBINATOR.test(e.schemaPath))
    .sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const c of combinators) {
    if (!errors.includes(c)) continue;
    // oneOf failing because several branches matched: no branch errors, the message says it all.
    if (c.keyword === 'oneOf' && c.params && c.params.passingSchemas != null) continue;
    const prefix = c.schemaPath + '/';
    const branches = new Map<number, ValidationError[]>();
    for (const e of errors) {
      if (!e.schemaPath.startsWith(prefix) || !isWithin(e.instancePath, c.instancePath)) continue;
      const n = Number(e.schemaPath.slice(prefix.length).split('/')[0]);
      if (!branches.has(n)) branches.set(n, []);
      branches.get(n)!.push(e);
    }
    if (branches.size === 0) continue;
    const wrongShape = (list: ValidationError[]) =>
      list.some((e) => e.instancePath === c.instancePath && (e.keyword === 'type' || e.keyword === 'const' || e.keyword === 'enum'));
    const relevant = [...branches.values()].filter((list) => !wrongShape(list));
    let replacement: ValidationError[];
    if (relevant.length > 0) {
      // The value has the shape of these branches: report the one with the fewest problems.
      relevant.sort((a, b) => a.length - b.length);
      replacement = relevant[0];
    } else {
      // No branch has the right shape: one line listing what the value could have been.
      const expected: string[] = [];
      for (const list of branches.values()) {
        for (const e of list) {
          if (e.instancePath !== c.instancePath) continue;
          if (e.keyword === 'type') expected.push(...String(e.params.type).split(','));
          else if (e.keyword === 'const') expected.push(show(e.params.allowedValue));
          else if (e.keyword === 'enum') expected.push(...(e.params.allowedValues as unknown[]).map(show));
        }
      }
      const unique = [...new Set(expected)];
      replacement = [
        {
          instancePath: c.instancePath,
          schemaPath: c.schemaPath,
          keyword: c.keyword,
          params: {},
          message: `must be ${unique.join(' or ')}`,
        },
      ];
    }
    const drop = new Set<ValidationError>([c, ...[...branches.values()].flat()]);
    const at = errors.findIndex((e) => drop.has(e));
    errors = errors.filter((e) => !drop.has(e));
    errors.splice(at < 0 ? errors.length : Math.min(at, errors.length), 0, ...replacement);
  }
  return errors;
}

function isWithin(path: string, parent: string): boolean {
  return path === parent || path.startsWith(parent + '/');
}

// ---------------------------------------------------------------------------------------------
// semantic rules (no host access)

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function objectAt(v: unknown): Obj | undefined {
  return isObject(v) ? v : undefined;
}
function arrayAt(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
/** JSON Pointer token for an object key. */
function tok(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
function q(s: string): string {
  return JSON.stringify(s);
}
function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$/;

function specSemantics(doc: Obj): string[] {
  const out: string[] = [];

  const version = str(doc.ociVersion);
  if (version !== undefined && version !== '') {
    if (!SEMVER.test(version)) {
      out.push(`/ociVersion: must be a SemVer 2.0.0 version such as "1.2.0" (got ${q(version)})`);
    } else if (Number(version.split('.')[0]) > 1) {
      // 0.x is accepted: the spec's own example config still says "0.5.0-dev".
      out.push(`/ociVersion: version ${version} is not supported (this runtime implements runtime-spec 1.x)`);
    }
  }

  const proc = objectAt(doc.process);
  if (proc) out.push(...processSemantics(proc, '/process'));

  const linux = objectAt(doc.linux) ?? {};
  // Namespaces joined by path: absolute paths.
  arrayAt(linux.namespaces).forEach((entry, i) => {
    const path = str(objectAt(entry)?.path) ?? '';
    if (path !== '' && !path.startsWith('/')) out.push(`/linux/namespaces/${i}/path: must be an absolute path (got ${q(path)})`);
  });

  for (const key of ['maskedPaths', 'readonlyPaths'] as const) {
    arrayAt(linux[key]).forEach((p, i) => {
      if (typeof p === 'string' && !p.startsWith('/')) out.push(`/linux/${key}/${i}: must be an absolute path (got ${q(p)})`);
    });
  }

  // Mounts.
  arrayAt(doc.mounts).forEach((entry, i) => {
    const m = objectAt(entry);
    if (m) out.push(...mountSemantics(m, `/mounts/${i}`));
  });

  // Hooks: absolute program paths.
  const hooks = objectAt(doc.hooks);
  if (hooks) {
    for (const [stage, list] of Object.entries(hooks)) {
      arrayAt(list).forEach((h, i) => {
        const p = str(objectAt(h)?.path);
        if (p !== undefined && p !== '' && !p.startsWith('/')) {
          out.push(`/hooks/${tok(stage)}/${i}/path: must be an absolute path (got ${q(p)})`);
        }
      });
    }
  }

  // Intel RDT class of service: a single directory name under the resctrl mount.
  const closID = str(objectAt(linux.intelRdt)?.closID);
  if (closID !== undefined && (closID === '.' || closID === '..' || (closID.length > 1 && closID.includes('/')))) {
    out.push(`/linux/intelRdt/closID: invalid class of service name ${q(closID)}`);
  }

  return out;
}

/** Rules for a process object; `base` is its JSON pointer ("" for a standalone process document). */
function processSemantics(proc: Obj, base: string): string[] {
  const out: string[] = [];
  const at = (p: string) => base + p;

  const cwd = str(proc.cwd);
  if (cwd !== undefined && cwd !== '') {
    if (!cwd.startsWith('/')) out.push(`${at('/cwd')}: must be an absolute path (got ${q(cwd)})`);
    if (cwd.includes('\0')) out.push(`${at('/cwd')}: must not contain a NUL byte`);
  }

  arrayAt(proc.args).forEach((a, i) => {
    if (typeof a === 'string' && a.includes('\0')) out.push(`${at(`/args/${i}`)}: must not contain a NUL byte`);
  });
  const args0 = arrayAt(proc.args)[0];
  if (args0 === '') out.push(`${at('/args/0')}: must not be empty (it names the program to run)`);

  arrayAt(proc.env).forEach((kv, i) => {
    if (typeof kv !== 'string') return;
    const eq = kv.indexOf('=');
    if (eq === -1) out.push(`${at(`/env/${i}`)}: must have the form NAME=VALUE (no '=' in ${q(kv)})`);
    else if (eq === 0) out.push(`${at(`/env/${i}`)}: must have the form NAME=VALUE (empty name in ${q(kv)})`);
    if (kv.includes('\0')) out.push(`${at(`/env/${i}`)}: must not contain a NUL byte`);
  });

  return out;
}

function mountSemantics(m: Obj, base: string): string[] {
  const out: string[] = [];
  for (const key of ['destination', 'source', 'type']) {
    const v = str(m[key]);
    if (v !== undefined && v.includes('\0')) out.push(`${base}/${key}: must not contain a NUL byte`);
  }
  const options = arrayAt(m.options).filter((o): o is string => typeof o === 'string');
  options.forEach((o, i) => {
    if (o.includes('\0')) out.push(`${base}/options/${i}: must not contain a NUL byte`);
  });
  return out;
}
