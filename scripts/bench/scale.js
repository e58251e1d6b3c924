'use strict';
/**
 * At scale: does one create cost the same with 200 containers around as with one? And do parallel
 * creates all succeed?
 *
 * Scale: each runtime grows to L running `sleep` containers for each level L (BENCH_SCALE, default
 * 1,50,200), then times create + start of the next BENCH_SCALE_WINDOW (20) containers, which stay;
 * the runtimes take turns container by container, so noise and the host's growing load (processes,
 * cgroups) hit them alike. Parallel: BENCH_PARALLEL (50) creates of one runtime started at once, all
 * of which must succeed. Every container made here is deleted before the next part.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { ctx, posInt, Interrupted, checkpoint, rtArgs, rtCall, CallError, forceDelete, firstLine, median, table } = require('./calls');

function levels() {
  const v = process.env.BENCH_SCALE === undefined ? '1,50,200' : process.env.BENCH_SCALE;
  if (v === 'none' || v === '') return [];
  return [...new Set(v.split(',').map((s) => posInt(s.trim(), 1)))].sort((a, b) => a - b);
}
const WINDOW = posInt(process.env.BENCH_SCALE_WINDOW, 20);
const PARALLEL = posInt(process.env.BENCH_PARALLEL, 50, true);

function createStart(rt, id) {
  ctx.live.push({ rt, id });
  return rtCall(rt, ['create', '--bundle', rt.bundles.sleep, id]).ms + rtCall(rt, ['start', id]).ms;
}

/** For each runtime: { levels: { L: [ms...] }, error } . */
async function benchScale(runtimes, newId) {
  const ls = levels();
  const res = new Map(runtimes.map((rt) => [rt, { levels: {}, ids: [], error: null }]));
  const turn = async (fn) => {
    for (const rt of runtimes) {
      const r = res.get(rt);
      if (r.error) continue;
      try {
        fn(rt, r);
      } catch (e) {
        if (ctx.interrupted) throw new Interrupted('interrupted');
        if (!(e instanceof CallError)) throw e;
        r.error = e.message;
      }
      await checkpoint();
    }
  };
  try {
    for (const level of ls) {
      for (let n = Math.min(...runtimes.map((rt) => res.get(rt).ids.length)); n < level; n++) {
        await turn((rt, r) => {
          if (r.ids.length >= level) return;
          const id = newId(rt, 'scale');
          r.ids.push(id);
          createStart(rt, id);
        });
      }
      for (let i = 0; i < WINDOW; i++) {
        await turn((rt, r) => {
          const id = newId(rt, 'scale');
          r.ids.push(id);
          (r.levels[level] ??= []).push(createStart(rt, id));
        });
      }
    }
  } finally {
    for (const [rt, r] of res) for (const id of r.ids) forceDelete(rt, id);
    ctx.reapOrphans();
  }
  return { levels: ls, res };
}

/** One call of the runtime, not waited for synchronously: { status, stderr }. */
function spawnCall(rt, args, errFile) {
  return new Promise((resolve) => {
    const err = fs.openSync(errFile, 'w+');
    // stdout is /dev/null, not a pipe: the container's init inherits it and lives on.
    const child = spawn(rt.bin, rtArgs(rt, ...args), { stdio: ['ignore', 'ignore', err] });
    fs.closeSync(err);
    const done = (status, why) => resolve({ status, stderr: why || fs.readFileSync(errFile, 'utf8') });
    child.on('error', (e) => done(-1, e.message));
    child.on('exit', (code, signal) => done(signal ? `signal ${signal}` : code));
  });
}

/** For each runtime: { wallMs, failures, firstError } of PARALLEL creates at once. */
async function benchParallel(runtimes, newId) {
  const out = new Map();
  if (!PARALLEL) return out;
  for (const rt of runtimes) {
    const ids = Array.from({ length: PARALLEL }, () => newId(rt, 'par'));
    for (const id of ids) ctx.live.push({ rt, id });
    try {
      const t0 = process.hrtime.bigint();
      // No reaping while these run: waitpid(-1) could take the status of one of them from Node.
      const results = await Promise.all(ids.map((id, i) => spawnCall(rt, ['create', '--bundle', rt.bundles.sleep, id], path.join(ctx.tmp, `par-${i}.err`))));
      const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const failed = results.filter((r) => r.status !== 0);
      out.set(rt, { wallMs, failures: failed.length, firstError: failed.length ? firstLine(failed[0].stderr || `exit ${failed[0].status}`) : '' });
    } finally {
      ctx.reapOrphans();
      for (const id of ids) forceDelete(rt, id);
      ctx.reapOrphans();
    }
    await checkpoint();
  }
  return out;
}

function reportScale(scale, parallel, runtimes) {
  if (scale && scale.levels.length) {
    const ls = scale.levels;
    const first = ls[0];
    const last = ls[ls.length - 1];
    console.log(`\nAt scale: median ms of create + start of ${WINDOW} \`sleep\` containers with L of them already running:\n`);
    const rows = runtimes.map((rt) => {
      const r = scale.res.get(rt);
      if (r.error) return [rt.name, `error: ${r.error}`];
      const at = (l) => (r.levels[l] && r.levels[l].length ? median(r.levels[l]) : NaN);
      return [rt.name, ...ls.map((l) => at(l).toFixed(1)), (at(last) / at(first)).toFixed(2)];
    });
    console.log(table(['runtime', ...ls.map((l) => `L=${l} (ms)`), `L=${last} / L=${first}`], rows));
  }
  if (parallel && parallel.size) {
    console.log(`\n${PARALLEL} creates started at once (\`sleep\` containers):\n`);
    const rows = runtimes.map((rt) => {
      const p = parallel.get(rt);
      return p ? [rt.name, p.wallMs.toFixed(0), (p.wallMs / PARALLEL).toFixed(1), String(p.failures), p.firstError] : [rt.name, '-', '-', '-', ''];
    });
    console.log(table(['runtime', 'wall (ms)', 'ms per create', 'failures', 'first failure'], rows));
  }
}

/** The L=max / L=min ratio of a runtime, for the targets. */
function scaleRatio(scale, rt) {
  if (!scale || scale.levels.length < 2) return NaN;
  const r = scale.res.get(rt);
  const ls = scale.levels;
  const at = (l) => (r && r.levels[l] && r.levels[l].length ? median(r.levels[l]) : NaN);
  return at(ls[ls.length - 1]) / at(ls[0]);
}

module.exports = { benchScale, benchParallel, reportScale, scaleRatio, PARALLEL };
