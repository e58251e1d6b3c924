/**
 * Who runs the runtime: its effective ids, and whether it runs in a user namespace other than
 * the initial one. Every command reads this for its default --root, so it is kept small (fs only).
 */
import fs from 'fs';
import type { Caller } from '../plan/caller-rules';

/** The initial user namespace maps every id to itself: "0 0 4294967295". */
export function isInitialUidMap(text: string): boolean {
  const lines = text.trim().split('\n');
  return lines.length === 1 && lines[0].trim().split(/\s+/).join(' ') === '0 0 4294967295';
}

let cached: Caller | undefined;

/** The runtime process's identity (read once). */
export function caller(): Caller {
  if (cached) return cached;
  let inUserns = false;
  try {
    inUserns = !isInitialUidMap(fs.readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    /* no user namespaces in this kernel: the initial one */
  }
  cached = { euid: process.geteuid?.() ?? 0, egid: process.getegid?.() ?? 0, inUserns };
  return cached;
}
