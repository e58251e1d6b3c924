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
 * Runtimes are interleaved round-robin (rotating who goes first) so machine noise hits all equally;
 * each runtime has its own --root in a temp dir. `create` runs under /usr/bin/time -f %M for its peak RSS.
 * A failing runtime gets "error: <first stderr line>" in its row; the others carry on.
 *
 * Then, engine-level: N times each of `podman run --rm <busybox image> true` and `ctr run --rm <image>
 * <id> true` with tsruntime and with runc as the engine's runtime, interleaved the same way, and the
 * tsruntime/runc ratio of the medians. The engines are set up privately exactly as the engine tests
 * do it (test/helpers/engines.ts, compiled to dist/: own namespaces, config, storage, sockets, cgroups;
 * torn down after). An engine that is not installed gets a row saying so.
 *
 * Env: BENCH_N (30), BENCH_WARMUP (1), BENCH_RUNTIMES (e.g. "runc,crun"), BENCH_TSRUNTIME (binary to use),
 *      BENCH_KEEP_UNIFIED=1 (see the crun note below), BENCH_ENGINES (default "podman,containerd";
 *      "none" skips the engine-level part).
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

const ROOT = path.resolve(__dirname, '..');
const N = posInt(process.env.BENCH_N, 30);
const WARMUP = posInt(process.env.BENCH_WARMUP, 1, true);
const TIME_BIN = '/usr/bin/time';
const TMPFS_MAGIC = 0x01021994;
const CGROUP2_MAGIC = 0x63677270;

function posInt(v, dflt, zeroOk = false) {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
    console.error(`bench: invalid number ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

// ---------------------------------------------------------------- runtimes

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {}
  }
  return null;
}

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

// ---------------------------------------------------------------- orphan reaping

let reapOrphans = () => {};
let subreaper = false;
function becomeSubreaper() {
  try {
    const reaper = require(path.join(ROOT, 'dist', 'src', 'native', 'reaper.js'));
    if (!reaper.becomeSubreaper()) return;
    subreaper = true;
    // Only ever called between spawnSync calls, when every child spawnSync made has been waited for,
    // so anything waitpid(-1) finds is an orphaned container process reparented to us.
    reapOrphans = () => reaper.reapExited();
  } catch {
    /* not built (npm run build) or koffi missing: orphans are left to PID 1 */
  }
}

// ---------------------------------------------------------------- process helpers

let tmp; // temp dir holding bundles, roots and call output files
let interrupted = false;
const live = []; // { rt, id } containers that may exist

class Interrupted extends Error {}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function checkpoint() {
  await tick(); // lets a pending SIGINT/SIGTERM handler run between the synchronous calls
  if (interrupted) throw new Interrupted('interrupted');
}

/** Runs a command with stdio on files (see header); returns status, stdout, stderr, ms. */
function call(cmd, args) {
  const outPath = path.join(tmp, 'call.out');
  const errPath = path.join(tmp, 'call.err');
  const out = fs.openSync(outPath, 'w+');
  const err = fs.openSync(errPath, 'w+');
  let r;
  const t0 = process.hrtime.bigint();
  try {
    r = spawnSync(cmd, args, { stdio: ['ignore', out, err] });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  reapOrphans();
  const stdout = fs.readFileSync(outPath, 'utf8');
  const stderr = fs.readFileSync(errPath, 'utf8');
  let status = r.status;
  if (r.error) status = -1;
  else if (status === null) status = 128 + (os.constants.signals[r.signal] || 0);
  return { status, stdout, stderr: r.error ? String(r.error.message) : stderr, ms, signal: r.signal };
}

function firstLine(s) {
  const line = String(s).split('\n').find((l) => l.trim() !== '') || '(no stderr)';
  return line.trim();
}

function rtArgs(rt, ...args) {
  return ['--root', rt.root, ...args];
}

class CallError extends Error {}

/** Runs a runtime subcommand; throws CallError("<first stderr line>") on a non-zero exit. */
function rtCall(rt, args, { timeRss = false } = {}) {
  let r;
  let rssKiB = null;
  if (timeRss) {
    const rssFile = path.join(tmp, 'rss');
    fs.rmSync(rssFile, { force: true });
    r = call(TIME_BIN, ['-f', '%M', '-o', rssFile, rt.bin, ...rtArgs(rt, ...args)]);
    try {
      // /usr/bin/time writes "Command exited with non-zero status N" before %M on failure.
      const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
      const v = Number(lines[lines.length - 1]);
      if (Number.isFinite(v)) rssKiB = v;
    } catch {}
  } else {
    r = call(rt.bin, rtArgs(rt, ...args));
  }
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM') interrupted = true;
  if (r.status !== 0) {
    const why = r.stderr.trim() ? firstLine(r.stderr) : `exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    throw new CallError(`${args[0]}: ${why}`);
  }
  return { ...r, rssKiB };
}

function forget(rt, id) {
  const i = live.findIndex((c) => c.rt === rt && c.id === id);
  if (i >= 0) live.splice(i, 1);
}

function forceDelete(rt, id) {
  call(rt.bin, rtArgs(rt, 'delete', '--force', id));
  forget(rt, id);
}

// ---------------------------------------------------------------- the measurements

let seq = 0;
const newId = (rt, what) => `bench-${process.pid}-${rt.name}-${what}-${seq++}`;

function measureRun(rt) {
  const id = newId(rt, 'run');
  live.push({ rt, id });
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
  live.push({ rt, id });
  let ok = false;
  try {
    let ms = 0;
    const c = rtCall(rt, ['create', '--bundle', rt.bundles.true, id], { timeRss: !!rt.timeBin });
    ms += c.ms;
    ms += rtCall(rt, ['start', id]).ms;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const s = rtCall(rt, ['state', id]);
      ms += s.ms;
      let st;
      try {
        st = JSON.parse(s.stdout);
      } catch {
        throw new CallError(`state: output is not JSON: ${firstLine(s.stdout)}`);
      }
      if (st.status === 'stopped') break;
      if (Date.now() > deadline) throw new CallError(`state: still "${st.status}" after 10 s`);
    }
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
  live.push({ rt, id });
  rtCall(rt, ['create', '--bundle', rt.bundles.sleep, id]);
  rtCall(rt, ['start', id]);
  rt.sleepId = id;
}

function measureExec(rt) {
  return rtCall(rt, ['exec', rt.sleepId, 'true']).ms;
}

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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
          else {
            p.samples.push(v.ms);
            if (v.rssKiB !== null && v.rssKiB !== undefined) p.rss.push(v.rssKiB);
          }
        }
      } catch (e) {
        if (interrupted) throw new Interrupted('interrupted');
        if (!(e instanceof CallError)) throw e;
        p.error = e.message;
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

function table(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
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
    table(['runtime', 'version', 'run (ms)', 'create+start+delete (ms)', 'create peak RSS (MiB)'], rows),
  );
  console.log(`\nexec (median ms of \`exec <id> true\` against a running \`sleep\` container):\n`);
  console.log(table(['runtime', 'exec (ms)'], runtimes.map((rt) => [rt.name, cell(rt.phases.exec, ms)])));
  console.log('\nnotes:');
  console.log(`  - create is timed including the ${TIME_BIN} wrapper used for peak RSS (%M, max RSS of the runtime process`);
  console.log('    and the children it waited for); the container init itself is not included.');
  if (!fs.existsSync(TIME_BIN)) console.log(`  - ${TIME_BIN} missing: no RSS column (apt-get install time)`);
  if (process.env.BENCH_IN_NS)
    console.log('  - ran in a private mount namespace with /sys/fs/cgroup/unified unmounted (crun 1.8 refuses hybrid cgroups)');
  if (!subreaper) console.log('  - could not become a child subreaper (not built, or koffi missing?): exited container inits stay zombies');
}

// ---------------------------------------------------------------- engine level

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
          reapOrphans();
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
      reapOrphans();
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

// ---------------------------------------------------------------- main

async function cleanup(runtimes) {
  for (const { rt, id } of [...live]) forceDelete(rt, id);
  // Anything else left in our private roots (e.g. a container whose create was interrupted).
  for (const rt of runtimes) {
    if (!rt.root || !fs.existsSync(rt.root)) continue;
    const r = call(rt.bin, rtArgs(rt, 'list', '-q'));
    if (r.status === 0) for (const id of r.stdout.split('\n').map((s) => s.trim()).filter(Boolean)) forceDelete(rt, id);
  }
  reapOrphans();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
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
    else runtimes.push({ ...c, phases: { run: phase(), cycle: phase(), exec: phase() } });
  }

  process.on('SIGINT', () => (interrupted = true));
  process.on('SIGTERM', () => (interrupted = true));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-bench-'));
  let status = 0;
  try {
    const make = (dir, ...args) => {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'make-bundle.sh'), dir, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`make-bundle.sh failed: ${firstLine(r.stderr)}`);
    };
    const bundles = { true: path.join(tmp, 'bundle-true'), sleep: path.join(tmp, 'bundle-sleep') };
    make(bundles.true, '/bin/true');
    make(bundles.sleep, 'sleep', '3600');
    const timeBin = fs.existsSync(TIME_BIN) ? TIME_BIN : null;
    for (const rt of runtimes) {
      rt.root = path.join(tmp, `root-${rt.name}`);
      rt.bundles = bundles;
      rt.timeBin = timeBin;
      const v = call(rt.bin, ['--version']);
      rt.version = v.status === 0 ? (firstLine(v.stdout).match(/\d+\.\d+(\.\d+)?\S*/) || [firstLine(v.stdout)])[0] : '?';
    }
    console.error(
      `bench: ${runtimes.map((r) => r.name).join(', ') || 'no runtimes'}; N=${N}, warm-up ${WARMUP}; temp ${tmp}`,
    );

    await runPhase(runtimes, 'run', measureRun, WARMUP, false);
    await runPhase(runtimes, 'cycle', measureLifecycle, WARMUP, false);
    for (let i = 0; i < N; i++) {
      await runPhase(runtimes, 'run', measureRun, 1);
      await runPhase(runtimes, 'cycle', measureLifecycle, 1);
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

    report(runtimes, missing);
    reportEngines(await benchEngines(runtimes));
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
