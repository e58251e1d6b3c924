#!/usr/bin/env node
'use strict';
/**
 * npm run bench — container lifecycle latency of tsruntime vs runc vs crun.
 *
 * For each runtime that is installed (tsruntime = bin/tsruntime of this repo), with fresh bundles
 * from scripts/make-bundle.sh, N containers (BENCH_N, default 30) each of:
 *   run      `run --bundle B id`                                   (foreground; run deletes on exit)
 *   lifecycle `create --bundle B id` + `start id` + poll `state id` until "stopped" + `delete id`
 *   exec     `exec id true` against one running `sleep` container per runtime
 *   commands create, start, state, list, kill and delete of a `sleep` container, each timed alone next
 *            to a bare `node -e 0` (the floor of a runtime that starts Node on every call)
 * Runtimes are interleaved round-robin (rotating who goes first) so machine noise hits all equally;
 * each runtime has its own --root in a temp dir. `create` runs under /usr/bin/time -f %M for its peak RSS.
 * A failing runtime gets "error: <first stderr line>" in its row; the others carry on.
 *
 * Then at scale (bench/scale.js): create + start time with 1, 50 and 200 containers running, and 50
 * creates started at once, which must all succeed.
 *
 * Then, engine-level: N times each of `podman run --rm <busybox image> true` and `ctr run --rm <image>
 * <id> true` with tsruntime and with runc as the engine's runtime, interleaved the same way, and the
 * tsruntime/runc ratio of the medians. The engines are set up privately exactly as the engine tests
 * do it (test/helpers/engines.ts, compiled to dist/: own namespaces, config, storage, sockets, cgroups;
 * torn down after). An engine that is not installed gets a row saying so.
 *
 * Env: BENCH_N (30), BENCH_WARMUP (1), BENCH_RUNTIMES (e.g. "runc,crun"), BENCH_TSRUNTIME (binary to use),
 *      BENCH_KEEP_UNIFIED=1 (see the crun note below), BENCH_ENGINES (default "podman,containerd";
 *      "none" skips the engine-level part), BENCH_SCALE (levels, default "1,50,200"; "none" skips),
 *      BENCH_SCALE_WINDOW (containers timed at each level, 20), BENCH_PARALLEL (50; 0 skips).
 *
 * Last, tsruntime's ratios to runc, crun and Node, and the start-up targets checked (bench/ratios.js).
 *
 * Machine quirks handled here:
 *  - PID 1 may not reap orphans, so a detached container init becomes a zombie forever. This process
 *    makes itself a child subreaper (dist/src/native/reaper.js: prctl PR_SET_CHILD_SUBREAPER) and
 *    reaps orphans with waitpid(-1, WNOHANG) between calls. (Zombies are reported "stopped" anyway.)
 *  - crun 1.8 refuses to run on hybrid cgroups when the v2 hierarchy has controllers ("cgroups in
 *    hybrid mode not supported"). If crun is benchmarked on such a host, the whole bench (all runtimes,
 *    to stay fair) re-executes itself in a private mount namespace with /sys/fs/cgroup/unified
 *    unmounted, i.e. a plain cgroup v1 view. The host is not modified. BENCH_KEEP_UNIFIED=1 disables it.
 *  - Container stdio is a regular file, never a pipe: a created container's init inherits the
 *    runtime's stdio, and a pipe would keep spawnSync waiting for EOF until the container exits.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {
  ROOT, TIME_BIN, N, WARMUP, ctx, which, becomeSubreaper, Interrupted, checkpoint, call, firstLine, rtArgs, CallError, rtCall, untilStopped, forget, forceDelete, median, table,
} = require('./bench/calls');
const { benchEngines, reportEngines } = require('./bench/engines');
const { COMMANDS, measureCommands, bareNode } = require('./bench/commands');
const { benchScale, benchParallel, reportScale, scaleRatio, PARALLEL } = require('./bench/scale');
const { reportCommands, reportLifecycleRatios, reportTargets } = require('./bench/ratios');

const TMPFS_MAGIC = 0x01021994;
const CGROUP2_MAGIC = 0x63677270;

// ---------------------------------------------------------------- runtimes

function candidateRuntimes() {
  const all = [
    { name: 'tsruntime', bin: process.env.BENCH_TSRUNTIME || path.join(ROOT, 'bin', 'tsruntime') },
    { name: 'runc', bin: which('runc') },
    { name: 'crun', bin: which('crun') },
  ];
  const wanted = process.env.BENCH_RUNTIMES ? process.env.BENCH_RUNTIMES.split(',').map((s) => s.trim()) : null;
  return all.filter((r) => !wanted || wanted.includes(r.name));
}

// ---------------------------------------------------------------- mount-namespace re-exec for crun

function needsPrivateCgroupView(runtimes) {
  if (process.env.BENCH_IN_NS || process.env.BENCH_KEEP_UNIFIED) return false;
  if (!runtimes.some((r) => r.name === 'crun' && r.bin)) return false;
  try {
    if (fs.statfsSync('/sys/fs/cgroup').type !== TMPFS_MAGIC) return false;
    if (fs.statfsSync('/sys/fs/cgroup/unified').type !== CGROUP2_MAGIC) return false;
    return fs.readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function reexecInPrivateMountNs() {
  if (!which('unshare') || process.getuid() !== 0) return false;
  // The child does the cleanup on Ctrl-C; we only wait for it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, __filename], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_IN_NS: '1' },
  });
  if (r.error) return false;
  process.exit(r.status === null ? 1 : r.status);
}

// ---------------------------------------------------------------- the measurements

let seq = 0;
const newId = (rt, what) => `bench-${process.pid}-${rt.name}-${what}-${seq++}`;

function measureRun(rt) {
  const id = newId(rt, 'run');
  ctx.live.push({ rt, id });
  try {
    const r = rtCall(rt, ['run', '--bundle', rt.bundles.true, id]);
    return r.ms;
  } finally {
    // run deletes the container when it exits; this only cleans up after failures.
    if (stateOf(rt, id) !== null) forceDelete(rt, id);
    else forget(rt, id);
  }
}

function stateOf(rt, id) {
  const r = call(rt.bin, rtArgs(rt, 'state', id));
  if (r.status !== 0) return null;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

function measureLifecycle(rt) {
  const id = newId(rt, 'cycle');
  ctx.live.push({ rt, id });
  let ok = false;
  try {
    let ms = 0;
    const c = rtCall(rt, ['create', '--bundle', rt.bundles.true, id], { timeRss: !!rt.timeBin });
    ms += c.ms;
    ms += rtCall(rt, ['start', id]).ms;
    ms += untilStopped(rt, id);
    ms += rtCall(rt, ['delete', id]).ms;
    ok = true;
    forget(rt, id);
    return { ms, rssKiB: c.rssKiB };
  } finally {
    if (!ok) forceDelete(rt, id);
  }
}

function setupExec(rt) {
  const id = newId(rt, 'sleep');
  ctx.live.push({ rt, id });
  rtCall(rt, ['create', '--bundle', rt.bundles.sleep, id]);
  rtCall(rt, ['start', id]);
  rt.sleepId = id;
}

function measureExec(rt) {
  return rtCall(rt, ['exec', rt.sleepId, 'true']).ms;
}

/** `node -e 0`, timed next to each runtime call of the per-command part and of run and exec. */
const nodeSamples = [];

function commandsRound(rt) {
  return measureCommands(rt, newId(rt, 'cmd'));
}

/** One phase of one runtime: samples, or the error that stopped it. */
function phase() {
  return { samples: [], rss: [], error: null };
}

async function runPhase(runtimes, key, fn, rounds, record = true) {
  for (let i = 0; i < rounds; i++) {
    const k = i % runtimes.length;
    const order = [...runtimes.slice(k), ...runtimes.slice(0, k)];
    for (const rt of order) {
      const p = rt.phases[key];
      if (p.error) continue;
      try {
        const v = fn(rt);
        if (record) {
          if (typeof v === 'number') p.samples.push(v);
          else if (v.node) {
            for (const c of COMMANDS) rt.phases[c].samples.push(v.ms[c]);
            nodeSamples.push(...v.node);
          }
          else {
            p.samples.push(v.ms);
            if (v.rssKiB !== null && v.rssKiB !== undefined) p.rss.push(v.rssKiB);
          }
        }
      } catch (e) {
        if (ctx.interrupted) throw new Interrupted('interrupted');
        if (!(e instanceof CallError)) throw e;
        p.error = e.message;
        if (key === 'commands') for (const c of COMMANDS) rt.phases[c].error = e.message;
      }
      await checkpoint();
    }
  }
}

// ---------------------------------------------------------------- output

function cell(p, fmt) {
  if (p.skipped) return p.skipped;
  if (p.error) return `error: ${p.error}`;
  if (!p.samples.length) return '-';
  return fmt(p);
}

function report(runtimes, missing) {
  const ms = (p) => median(p.samples).toFixed(1);
  const rows = runtimes.map((rt) => [
    rt.name,
    rt.version,
    cell(rt.phases.run, ms),
    cell(rt.phases.cycle, ms),
    rt.phases.cycle.error || !rt.phases.cycle.rss.length
      ? rt.timeBin
        ? '-'
        : 'n/a'
      : (median(rt.phases.cycle.rss) / 1024).toFixed(1),
  ]);
  for (const m of missing) rows.push([m.name, '-', `not installed (${m.why})`, '', '']);
  console.log(`\nContainer lifecycle, median ms per container over N=${N} (after ${WARMUP} warm-up), /bin/true in a busybox bundle:\n`);
  console.log(
    table(['runtime', 'version', 'run (ms)', 'create+start+state+delete (ms)', 'create peak RSS (MiB)'], rows),
  );
  console.log(`\nexec (median ms of \`exec <id> true\` against a running \`sleep\` container):\n`);
  console.log(table(['runtime', 'exec (ms)'], runtimes.map((rt) => [rt.name, cell(rt.phases.exec, ms)])));
  console.log('\nnotes:');
  console.log(`  - create is timed including the ${TIME_BIN} wrapper used for peak RSS (%M, max RSS of the runtime process`);
  console.log('    and the children it waited for); the container init itself is not included.');
  if (!fs.existsSync(TIME_BIN)) console.log(`  - ${TIME_BIN} missing: no RSS column (apt-get install time)`);
  if (process.env.BENCH_IN_NS)
    console.log('  - ran in a private mount namespace with /sys/fs/cgroup/unified unmounted (crun 1.8 refuses hybrid cgroups)');
  if (!ctx.subreaper) console.log('  - could not become a child subreaper (not built, or koffi missing?): exited container inits stay zombies');
}

// ---------------------------------------------------------------- main

async function cleanup(runtimes) {
  for (const { rt, id } of [...ctx.live]) forceDelete(rt, id);
  // Anything else left in our private roots (e.g. a container whose create was interrupted).
  for (const rt of runtimes) {
    if (!rt.root || !fs.existsSync(rt.root)) continue;
    const r = call(rt.bin, rtArgs(rt, 'list', '-q'));
    if (r.status === 0) for (const id of r.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) forceDelete(rt, id);
  }
  ctx.reapOrphans();
  if (ctx.tmp) fs.rmSync(ctx.tmp, { recursive: true, force: true });
}

async function main() {
  const candidates = candidateRuntimes();
  if (needsPrivateCgroupView(candidates)) reexecInPrivateMountNs();
  if (process.env.BENCH_IN_NS) {
    const u = spawnSync('umount', ['/sys/fs/cgroup/unified'], { encoding: 'utf8' });
    if (u.status !== 0) console.error(`bench: umount /sys/fs/cgroup/unified: ${firstLine(u.stderr)}`);
  }
  becomeSubreaper();

  const missing = [];
  const runtimes = [];
  for (const c of candidates) {
    if (!c.bin) missing.push({ name: c.name, why: 'not in PATH' });
    else if (!fs.existsSync(c.bin)) {
      const shown = c.bin.startsWith(ROOT + '/') ? path.relative(ROOT, c.bin) : c.bin;
      missing.push({ name: c.name, why: `${shown} not found` });
    }
    else runtimes.push({ ...c, phases: Object.fromEntries(['run', 'cycle', 'exec', 'commands', ...COMMANDS].map((k) => [k, phase()])) });
  }

  process.on('SIGINT', () => (ctx.interrupted = true));
  process.on('SIGTERM', () => (ctx.interrupted = true));
  ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-bench-'));
  let status = 0;
  try {
    const make = (dir, ...args) => {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'make-bundle.sh'), dir, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`make-bundle.sh failed: ${firstLine(r.stderr)}`);
    };
    const bundles = { true: path.join(ctx.tmp, 'bundle-true'), sleep: path.join(ctx.tmp, 'bundle-sleep') };
    make(bundles.true, '/bin/true');
    make(bundles.sleep, 'sleep', '3600');
    const timeBin = fs.existsSync(TIME_BIN) ? TIME_BIN : null;
    for (const rt of runtimes) {
      rt.root = path.join(ctx.tmp, `root-${rt.name}`);
      rt.bundles = bundles;
      rt.timeBin = timeBin;
      const v = call(rt.bin, ['--version']);
      rt.version = v.status === 0 ? (firstLine(v.stdout).match(/\d+\.\d+(\.\d+)?\S*/) || [firstLine(v.stdout)])[0] : '?';
    }
    console.error(
      `bench: ${runtimes.map((r) => r.name).join(', ') || 'no runtimes'}; N=${N}, warm-up ${WARMUP}; temp ${ctx.tmp}`,
    );

    await runPhase(runtimes, 'run', measureRun, WARMUP, false);
    await runPhase(runtimes, 'cycle', measureLifecycle, WARMUP, false);
    await runPhase(runtimes, 'commands', commandsRound, WARMUP, false);
    for (let i = 0; i < N; i++) {
      await runPhase(runtimes, 'run', measureRun, 1);
      await runPhase(runtimes, 'cycle', measureLifecycle, 1);
      await runPhase(runtimes, 'commands', commandsRound, 1);
      nodeSamples.push(bareNode());
    }

    for (const rt of runtimes) {
      try {
        setupExec(rt);
      } catch (e) {
        if (!(e instanceof CallError)) throw e;
        rt.phases.exec.skipped = `skipped (${e.message})`;
      }
      await checkpoint();
    }
    const execers = runtimes.filter((rt) => !rt.phases.exec.skipped);
    await runPhase(execers, 'exec', measureExec, WARMUP, false);
    await runPhase(execers, 'exec', measureExec, N);

    // The exec container goes before the scale part counts containers.
    for (const rt of execers) forceDelete(rt, rt.sleepId);
    const scale = await benchScale(runtimes, newId);
    const parallel = await benchParallel(runtimes, newId);

    report(runtimes, missing);
    reportCommands(runtimes, nodeSamples);
    reportLifecycleRatios(runtimes, nodeSamples);
    reportScale(scale, parallel, runtimes);
    const engines = await benchEngines(runtimes);
    reportEngines(engines);
    reportTargets({ runtimes, nodeSamples, engines, scaleRatio: scaleRatio(scale, runtimes.find((r) => r.name === 'tsruntime')), parallel, parallelCount: PARALLEL });
  } catch (e) {
    if (e instanceof Interrupted) {
      console.error('\nbench: interrupted; cleaning up');
      status = 130;
    } else {
      console.error(`bench: ${e.stack || e}`);
      status = 1;
    }
  } finally {
    await cleanup(runtimes);
  }
  process.exit(status);
}

main();