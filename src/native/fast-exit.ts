/**
 * The end of a CLI process: process.exit, whose 'exit' listeners run (the tty proxy restores the
 * caller's terminal there), then _exit(2) from native/build/tsr-addon.node instead of Node's
 * teardown (native/addon.c says what that costs). Nothing is pending by then: the runtime writes
 * its output synchronously, and Node writes stdout and stderr synchronously to files, pipes and
 * terminals on Linux.
 */
import { loadAddon } from './addon';

export function exitProcess(code: number): never {
  endWithoutTeardown();
  process.exit(code);
}

/**
 * process.exit ends in process.reallyExit, a hook Node documents as patched in user land. Not
 * under a profiler or coverage, which write their data in the teardown; without the addon (not
 * built), Node's own exit.
 */
function endWithoutTeardown(): void {
  if (process.env.NODE_V8_COVERAGE || process.execArgv.some((a) => /^--(cpu-prof|heap-prof|prof)\b/.test(a))) return;
  try {
    (process as unknown as { reallyExit: unknown }).reallyExit = loadAddon().exit;
  } catch {
    // not built here: Node's exit
  }
}
