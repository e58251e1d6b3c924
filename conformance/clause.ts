/**
 * The project's own conformance suite: one tap test per MUST/SHOULD clause of the runtime-spec
 * (config.md, config-linux.md, runtime.md), named "<document> <section>: <clause text>", checked
 * with real containers. Facts from inside come from the probe (conformance/probe.c).
 *
 * Run with `npm run conformance` (after `npm run build`), as root.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import { NEEDS_ROOT, Sandbox } from '../test/helpers/runtime';

export type Doc = 'config.md' | 'config-linux.md' | 'runtime.md';

/** One clause: `fn` gets a fresh sandbox whose containers are cleaned up after the test (root only). */
export function clause(doc: Doc, section: string, text: string, fn: (t: Test, sb: Sandbox) => void | Promise<void>): void {
  t.test(`${doc} ${section}: ${text}`, { skip: NEEDS_ROOT }, async (tt) => {
    const sb = new Sandbox(tt);
    await fn(tt, sb);
  });
}

/** The same clause, skipped with a reason when this host lacks what it needs. */
export function clauseIf(cond: boolean | string, doc: Doc, section: string, text: string, fn: (t: Test, sb: Sandbox) => void | Promise<void>): void {
  if (cond === true) return clause(doc, section, text, fn);
  t.test(`${doc} ${section}: ${text}`, { skip: typeof cond === 'string' ? cond : 'not supported on this host' }, () => {});
}

/** The runtime's own namespace of a type, e.g. "net:[4026531833]". */
export function hostNs(name: string): string {
  return fs.readlinkSync(`/proc/self/ns/${name}`);
}

export function hostHas(p: string): boolean {
  return fs.existsSync(p);
}
