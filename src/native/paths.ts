/** Where the native build lives: no koffi here, so hooks and tests can find tsr-init cheaply. */
import fs from 'fs';
import path from 'path';

/** A path in this package, from dist/src/native (three levels down), where its modules run. */
export function packagePath(...parts: string[]): string {
  return path.join(__dirname, '..', '..', '..', ...parts);
}

/** The package's native/build, once a file was found there. */
let buildDir: string | undefined;

/**
 * A file of native/build: the package's (looked at once per process), else the nearest directory
 * above dist/src/native that has it.
 */
export function nativeBuildPath(name: string): string {
  if (buildDir === undefined) {
    const usual = packagePath('native', 'build');
    if (!fs.existsSync(path.join(usual, name))) return nearest(name);
    buildDir = usual;
  }
  return path.join(buildDir, name);
}

function nearest(name: string): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'native', 'build', name);
    if (fs.existsSync(candidate) || path.dirname(dir) === dir) return candidate;
  }
}

/** tsr-init (native/init/main.c): what every process of a container starts as, and hooks are run through. */
export function initPath(): string {
  return nativeBuildPath('tsr-init');
}
