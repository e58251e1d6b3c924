/**
 * libc through koffi, for the few system calls Node has no API for and the shim does not wrap
 * (bpf-syscalls.ts, reaper.ts). Loaded on first use: koffi costs a few ms, which commands that
 * never need it do not pay.
 */
import { loadKoffi } from './koffi';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface Libc {
  koffi: any;
  lib: any;
}

let cached: Libc | undefined;

export function libc(): Libc {
  if (cached) return cached;
  const koffi = loadKoffi();
  cached = { koffi, lib: koffi.load('libc.so.6') };
  return cached;
}
