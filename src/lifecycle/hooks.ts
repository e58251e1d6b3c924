/** OCI hooks: each runs with the container state on stdin, in the runtime's namespaces. */
import type { spawnSync as SpawnSync } from 'child_process';
import { RuntimeError } from '../errors';
import type { Hook } from '../generated/config';
import { initPath } from '../native/paths';

export type HookKind = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

/**
 * Run the hooks of one kind in order. A failure throws at once (create-time hooks: runtime.md
 * makes it an error), unless onFailure is given (poststart, poststop: the runtime MUST log a
 * warning and run the remaining hooks); then each failure goes there and the rest still run.
 */
export function runHooks(kind: HookKind, hooks: readonly Hook[] | undefined, state: object, onFailure?: (message: string) => void): void {
  if (!hooks?.length) return;
  // child_process costs ~5 ms to load: start and delete load this module, most containers have no hooks.
  const { spawnSync } = require('child_process') as { spawnSync: typeof SpawnSync };
  hooks.forEach((hook, i) => {
    const args = hook.args && hook.args.length ? hook.args : [hook.path];
    // Through tsr-init, which closes every fd but stdio before exec'ing the hook: whatever our
    // caller left open (not close-on-exec) must not reach it, and Node cannot close them.
    const res = spawnSync(initPath(), ['hook', hook.path, ...args], {
      env: Object.fromEntries((hook.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      input: JSON.stringify(state),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
    });
    const where = `${kind} hook #${i} (${hook.path})`;
    const fail = (message: string) => {
      if (!onFailure) throw new RuntimeError(message);
      onFailure(message);
    };
    // EPIPE: the hook exited without reading the state on its stdin; its exit status decides.
    if (res.error && (res.error as NodeJS.ErrnoException).code !== 'EPIPE') {
      const err = res.error as NodeJS.ErrnoException;
      if (err.code === 'ETIMEDOUT') return fail(`${where}: timed out after ${hook.timeout}s`);
      return fail(`${where}: ${err.message}`);
    }
    if (res.status !== 0) {
      const out = `${res.stderr?.toString() ?? ''}${res.stdout?.toString() ?? ''}`.trim().replace(/\s*\n\s*/g, '; ');
      const how = res.signal ? `killed by ${res.signal}` : `exit status ${res.status}`;
      fail(`${where}: ${how}${out ? `: ${out}` : ''}`);
    }
  });
}
