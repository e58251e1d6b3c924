'use strict';
/**
 * The benchmark's process helpers: runtime calls with stdio on files and their timing, orphan
 * reaping, interruption, and the containers that may need deleting (shared by all its parts).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const TIME_BIN = '/usr/bin/time';

/** What every part shares: the temp dir, the containers that may exist, interruption, reaping. */
const ctx = {
  tmp: null, // temp dir holding bundles, roots and call output files
  interrupted: false,
  live: [], // { rt, id } containers that may exist
  subreaper: false,
  reapOrphans: () => {},
};

/** BENCH_N, BENCH_WARMUP: calls per measurement, and unrecorded ones before them. */
const N = posInt(process.env.BENCH_N, 30);
const WARMUP = posInt(process.env.BENCH_WARMUP, 1, true);

function posInt(v, dflt, zeroOk = false) {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) {
    console.error(`bench: invalid number ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

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

function becomeSubreaper() {
  try {
    const reaper = require(path.join(ROOT, 'dist', 'src', 'native', 'reaper.js'));
    if (!reaper.becomeSubreaper()) return;
    ctx.subreaper = true;
    // Only ever called between spawnSync calls, when every child spawnSync made has been waited for,
    // so anything waitpid(-1) finds is an orphaned container process reparented to us.
    ctx.reapOrphans = () => reaper.reapExited();
  } catch {
    /* not built (npm run build) or koffi missing: orphans are left to PID 1 */
  }
}

class Interrupted extends Error {}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function checkpoint() {
  await tick(); // lets a pending SIGINT/SIGTERM handler run between the synchronous calls
  if (ctx.interrupted) throw new Interrupted('interrupted');
}

/** Runs a command with stdio on files (see header); returns status, stdout, stderr, ms. */
function call(cmd, args, { env } = {}) {
  const outPath = path.join(ctx.tmp, 'call.out');
  const errPath = path.join(ctx.tmp, 'call.err');
  const out = fs.openSync(outPath, 'w+');
  const err = fs.openSync(errPath, 'w+');
  let r;
  const t0 = process.hrtime.bigint();
  try {
    r = spawnSync(cmd, args, { stdio: ['ignore', out, err], env });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  ctx.reapOrphans();
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
    const rssFile = path.join(ctx.tmp, 'rss');
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
  if (r.signal === 'SIGINT' || r.signal === 'SIGTERM') ctx.interrupted = true;
  if (r.status !== 0) {
    const why = r.stderr.trim() ? firstLine(r.stderr) : `exit status ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    throw new CallError(`${args[0]}: ${why}`);
  }
  return { ...r, rssKiB };
}

function forget(rt, id) {
  const i = ctx.live.findIndex((c) => c.rt === rt && c.id === id);
  if (i >= 0) ctx.live.splice(i, 1);
}

function forceDelete(rt, id) {
  call(rt.bin, rtArgs(rt, 'delete', '--force', id));
  forget(rt, id);
}

function median(xs) {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}


function table(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** Polls `state` until the container is stopped (10 s at most); returns the time those calls took. */
function untilStopped(rt, id) {
  let ms = 0;
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
    if (st.status === 'stopped') return ms;
    if (Date.now() > deadline) throw new CallError(`state: still "${st.status}" after 10 s`);
  }
}

module.exports = {
  ROOT, TIME_BIN, N, WARMUP, ctx, posInt, which, becomeSubreaper, Interrupted, checkpoint, call, firstLine, rtArgs, CallError, rtCall, untilStopped, forget, forceDelete, median, table,
};
