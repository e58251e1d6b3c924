'use strict';
/**
 * The benchmark's engine level: `podman run --rm` and `ctr run --rm` with tsruntime and with runc as
 * the engine's runtime, each engine set up privately as the engine tests do.
 */
const path = require('path');
const { ROOT, N, WARMUP, ctx, Interrupted, checkpoint, firstLine, median, table } = require('./calls');

const ENGINE_HELPERS = path.join(ROOT, 'dist', 'test', 'helpers', 'engines.js');

function wantedEngines() {
  const v = process.env.BENCH_ENGINES === undefined ? 'podman,containerd' : process.env.BENCH_ENGINES;
  if (v === 'none' || v === '') return [];
  return v.split(',').map((s) => s.trim());
}

/**
 * `<engine> run --rm <image> true` with tsruntime and with runc: rows of [engine, tsruntime ms, runc ms,
 * ratio], or [engine, why not]. Each engine is created, measured and torn down in turn.
 */
async function benchEngines(runtimes) {
  const names = wantedEngines();
  if (!names.length) return null;
  const rows = [];
  let helpers;
  try {
    helpers = require(ENGINE_HELPERS);
  } catch (e) {
    for (const n of names) rows.push({ engine: n, note: `skipped (${path.relative(ROOT, ENGINE_HELPERS)} missing: npm run build)` });
    return rows;
  }
  const classes = { podman: helpers.Podman, containerd: helpers.Containerd };
  const pair = ['tsruntime', 'runc']
    .map((name) => runtimes.find((r) => r.name === name))
    .filter(Boolean)
    .map((r) => ({ name: r.name, bin: r.bin }));
  for (const name of names) {
    const cls = classes[name];
    if (!cls) {
      rows.push({ engine: name, note: 'unknown engine (podman, containerd)' });
      continue;
    }
    const why = process.getuid() !== 0 ? 'needs root' : cls.missing();
    if (why) {
      rows.push({ engine: name, note: `skipped (${why})` });
      continue;
    }
    if (!pair.length) {
      rows.push({ engine: name, note: 'skipped (neither tsruntime nor runc is benchmarked)' });
      continue;
    }
    const teardowns = [];
    const samples = new Map(pair.map((r) => [r.name, []]));
    const errors = new Map();
    try {
      const engine = await cls.create({ teardown: (fn) => teardowns.push(fn) }, pair);
      for (let i = 0; i < WARMUP + N; i++) {
        const k = i % pair.length;
        for (const rt of [...pair.slice(k), ...pair.slice(0, k)]) {
          if (errors.has(rt.name)) continue;
          const t0 = process.hrtime.bigint();
          const r = engine.run(rt, ['true']);
          const ms = Number(process.hrtime.bigint() - t0) / 1e6;
          ctx.reapOrphans();
          if (r.status !== 0) errors.set(rt.name, `exit ${r.status}: ${firstLine(r.stderr || r.stdout)}`);
          else if (i >= WARMUP) samples.get(rt.name).push(ms);
          await checkpoint();
        }
      }
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      rows.push({ engine: name, note: `error: ${firstLine(e.message || e)}` });
      continue;
    } finally {
      for (const fn of teardowns.reverse()) {
        try {
          await fn();
        } catch {}
      }
      ctx.reapOrphans();
    }
    const cellOf = (n) => (errors.has(n) ? `error: ${errors.get(n)}` : samples.get(n) && samples.get(n).length ? median(samples.get(n)).toFixed(1) : '-');
    const ts = samples.get('tsruntime') || [];
    const rc = samples.get('runc') || [];
    const ratio = !errors.size && ts.length && rc.length ? (median(ts) / median(rc)).toFixed(2) : '-';
    rows.push({ engine: name, cells: [cellOf('tsruntime'), cellOf('runc'), ratio] });
  }
  return rows;
}

function reportEngines(rows) {
  if (!rows) return;
  const cmd = { podman: 'podman run --rm <image> true', containerd: 'ctr run --rm <image> <id> true' };
  console.log(`\nEngine level, median ms per container over N=${N} (after ${WARMUP} warm-up), the engine's own CLI with each runtime:\n`);
  console.log(
    table(
      ['engine', 'command', 'tsruntime (ms)', 'runc (ms)', 'tsruntime/runc'],
      rows.map((r) => (r.note ? [r.engine, cmd[r.engine] || '', r.note, '', ''] : [r.engine, cmd[r.engine], ...r.cells])),
    ),
  );
  console.log('\n  - each engine private (test/helpers/engines.ts): its own namespaces, config, storage and cgroups, no network;');
  console.log('    the time is the whole CLI call: the engine, its monitor (conmon, the containerd shim) and the runtime.');
}

module.exports = { benchEngines, reportEngines };
