/** Where the native build lives: no koffi here, so hooks and tests can find tsr-init cheaply. */
import fs from 'fs';
import path from 'path';

/** A file of native/build: from dist/src/native/*.js or a bundle, the nearest directory above that has it. */
export function nativeBuildPath(name: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'native', 'build', name);
    if (fs.existsSync(candidate) || path.dirname(dir) === dir) return candidate;
  }
}

/** tsr-init (native/init/main.c): what every process of a container starts as, and hooks are run through. */
export function initPath(): string {
  return nativeBuildPath('tsr-init');
}
