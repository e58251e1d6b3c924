/*
 * The native shim's parent side: what runs in Node's process, loaded through koffi
 * (src/native/shim.ts and config-shim.ts). One file per concern: spawn.c (start tsr-init, the
 * sync channel), sockets.c (console socket, sd_notify relay), netdev.c (move a network device
 * into the container), host-process.c (reads in a container's root, namespace types), digest.c (the hash
 * that names seccomp cache entries). Seccomp profiles are compiled from TypeScript
 * (src/native/seccomp.ts).
 */
#ifndef TSR_SHIM_H
#define TSR_SHIM_H
#include "../init/init.h"
#endif
