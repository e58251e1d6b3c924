/** runc, for tests that compare with it (a test dependency: .ci/run installs it); tests skip without it. */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

/** runc's path, or undefined when it is not installed. */
export const RUNC: string | undefined = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc'].find((p) => fs.existsSync(p));

/** What `runc spec [--rootless]` writes, or undefined when runc is not installed. */
export function runcSpec(rootless = false): Record<string, any> | undefined {
  if (!RUNC) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-runc-spec-'));
  try {
    execFileSync(RUNC, rootless ? ['spec', '--rootless'] : ['spec'], { cwd: dir, stdio: 'pipe' });
    return JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
