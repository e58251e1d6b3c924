/**
 * Parent-side native helpers for config fields (native/shim/netdev.c, spawn.c: the same
 * libtsrshim.so as shim.ts uses): sched_setaffinity of another process and moving a network
 * device. Loaded only by the commands that need them.
 */
import { bound } from './shim';

export interface ConfigShim {
  /** sched_setaffinity(pid); 0 or -errno. */
  schedSetaffinity(pid: number, mask: Buffer): number;
  /** Move a host interface into the network namespace open as netnsFd (renamed, addresses kept, up); 0 or -errno. */
  netdevMove(name: string, newName: string, netnsFd: number): number;
}

let cached: ConfigShim | undefined;

export function loadConfigShim(): ConfigShim {
  if (cached) return cached;
  const setaff = bound('int tsr_sched_setaffinity(int pid, const uint8_t *mask, uint32_t len)');
  const netdevMove = bound('int tsr_netdev_move(const char *name, const char *newname, int netns_fd)');
  cached = {
    schedSetaffinity: (pid, mask) => setaff()(pid, mask, mask.length),
    netdevMove: (name, newName, fd) => netdevMove()(name, newName, fd),
  };
  return cached;
}
