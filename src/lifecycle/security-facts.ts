/** Host facts about LSMs and the seccomp compiler, shared by create (the init) and exec. */
import * as fs from 'fs';
import { RuntimeError } from '../errors';
import { loadConfigShim } from '../native/config-shim';
import type { LsmFacts } from '../plan/process-fields';

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function lastCap(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
}

export function lsmFacts(): LsmFacts {
  let apparmor = false;
  try {
    apparmor = fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y' && fs.existsSync('/sys/kernel/security/apparmor');
  } catch {
    /* no AppArmor module */
  }
  return { apparmor, selinux: fs.existsSync('/sys/fs/selinux/enforce') };
}

/** libseccomp, in this (parent) process: rules in, BPF out. */
export function compileSeccomp(rules: string): Buffer {
  try {
    return loadConfigShim().compileSeccomp(rules);
  } catch (e) {
    throw new RuntimeError(`linux.seccomp: cannot build the filter: ${(e as Error).message}`);
  }
}
