/*
 * A fast, non-cryptographic hash of a string, for names only: the seccomp program cache
 * (src/launch/seccomp-cache.ts) names an entry by the hash of its key and compares the whole key
 * before using it, so a collision costs a compile, never a wrong program. In C because the key is
 * tens of KiB, which Node's interpreter (--jitless) hashes in milliseconds, and Node's crypto
 * module alone takes about 10 ms to load.
 */
#include <stdint.h>

/* FNV-1a, 32 bits, of the NUL-terminated text. */
uint32_t tsr_fnv1a32(const char *text)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}
