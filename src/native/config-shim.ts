/**
 * Parent-side native helpers for config fields (native/shim/seccomp.c, netdev.c, spawn.c: the same
 * libtsrshim.so as shim.ts uses): the seccomp compiler (libseccomp) and sched_setaffinity of
 * another process. Loaded only by the commands that need them.
 */
import { shimLibrary } from './shim';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;

export interface ConfigShim {
  /** A seccomp BPF program (struct sock_filter[]) from serialized rules; throws on failure. */
  compileSeccomp(rules: string): Buffer;
  /** sched_setaffinity(pid); 0 or -errno. */
  schedSetaffinity(pid: number, mask: Buffer): number;
  /** Move a host interface into the network namespace open as netnsFd (renamed, addresses kept, up); 0 or -errno. */
  netdevMove(name: string, newName: string, netnsFd: number): number;
}

let cached: ConfigShim | undefined;

export function loadConfigShim(): ConfigShim {
  if (cached) return cached;
  const lib = shimLibrary();
  const compile: Fn = lib.func('int tsr_seccomp_compile(const char *rules, _Out_ uint8_t *out, uint32_t cap, _Out_ int32_t *bad_line)');
  const setaff: Fn = lib.func('int tsr_sched_setaffinity(int pid, const uint8_t *mask, uint32_t len)');
  const netdevMove: Fn = lib.func('int tsr_netdev_move(const char *name, const char *newname, int netns_fd)');
  cached = {
    compileSeccomp(rules) {
      let cap = 64 * 1024;
      for (;;) {
        const out = Buffer.alloc(cap);
        const bad = [0];
        const rc = compile(rules, out, cap, bad);
        if (rc === -7 /* E2BIG */ && cap < 16 * 1024 * 1024) {
          cap *= 4;
          continue;
        }
        if (rc < 0) {
          const line = bad[0] ? rules.split('\n')[bad[0] - 1] : undefined;
          throw new Error(`errno ${-rc}${line ? ` at "${line}"` : ''}`);
        }
        return out.subarray(0, rc);
      }
    },
    schedSetaffinity: (pid, mask) => setaff(pid, mask, mask.length),
    netdevMove: (name, newName, fd) => netdevMove(name, newName, fd),
  };
  return cached;
}
