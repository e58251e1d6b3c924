'use strict';
/**
 * The benchmark's verdicts: tsruntime against runc, crun and bare Node for every measurement of the
 * run, and the project's start-up targets (issue 13) checked against the same numbers.
 */
const { median, table } = require('./calls');
const { COMMANDS } = require('./commands');

const fmt = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const med = (p) => (p && !p.error && !p.skipped && p.samples.length ? median(p.samples) : NaN);

/** Per command: each runtime's median and tsruntime's ratios. */
function reportCommands(runtimes, nodeSamples) {
  const node = median(nodeSamples);
  const byName = (n) => runtimes.find((r) => r.name === n);
  const ts = byName('tsruntime');
  const others = runtimes.filter((r) => r !== ts);
  console.log(`\nEach command alone (median ms; \`node -e 0\` timed next to every call, ${nodeSamples.length} times: ${fmt(node, 1)} ms):\n`);
  const header = ['command', ...runtimes.map((r) => `${r.name} (ms)`), ...(ts ? [...others.map((r) => `/${r.name}`), '/node'] : [])];
  const rows = COMMANDS.map((c) => {
    const t = ts ? med(ts.phases[c]) : NaN;
    return [c, ...runtimes.map((r) => (r.phases[c].error ? `error: ${r.phases[c].error}` : fmt(med(r.phases[c]), 1))),
      ...(ts ? [...others.map((r) => fmt(t / med(r.phases[c]))), fmt(t / node)] : [])];
  });
  console.log(table(header, rows));
}

/** tsruntime's ratio to each other runtime and to Node for run, the lifecycle and exec. */
function reportLifecycleRatios(runtimes, nodeSamples) {
  const ts = runtimes.find((r) => r.name === 'tsruntime');
  if (!ts) return;
  const node = median(nodeSamples);
  const others = runtimes.filter((r) => r !== ts);
  console.log('\ntsruntime / other (ratio of medians):\n');
  // Against Node only for single calls: the lifecycle is several.
  const rows = [['run', 'run', true], ['create+start+state+delete', 'cycle', false], ['exec', 'exec', true]].map(([label, key, single]) => {
    const t = med(ts.phases[key]);
    return [label, ...others.map((r) => fmt(t / med(r.phases[key]))), single ? fmt(t / node) : '-'];
  });
  console.log(table(['measurement', ...others.map((r) => `/${r.name}`), '/node -e 0'], rows));
}

/**
 * The targets of issue 13: rows of [what, target, measured, verdict]. A measurement this run did not
 * make is "-", never a pass.
 */
function targets({ runtimes, nodeSamples, engines, scaleRatio, parallel, parallelCount }) {
  const ts = runtimes.find((r) => r.name === 'tsruntime');
  const runc = runtimes.find((r) => r.name === 'runc');
  if (!ts) return [];
  const node = median(nodeSamples);
  const rows = [];
  const add = (what, limit, value, digits = 2, unit = '×') => {
    const v = Number.isFinite(value) ? `${value.toFixed(digits)}${unit}` : '-';
    rows.push([what, `≤ ${limit}${unit}`, v, Number.isFinite(value) ? (value <= limit ? 'ok' : 'MISSED') : '-']);
  };
  for (const c of ['state', 'start', 'kill', 'delete', 'list']) add(`${c} / node -e 0`, 1.15, med(ts.phases[c]) / node);
  const vsRunc = (key) => (runc ? med(ts.phases[key]) / med(runc.phases[key]) : NaN);
  add('run / runc', 2.0, vsRunc('run'));
  add('exec / runc', 1.8, vsRunc('exec'));
  add('create+start+state+delete / runc', 2.8, vsRunc('cycle'));
  const engine = (name) => {
    const r = (engines || []).find((e) => e.engine === name && e.cells);
    return r ? Number(r.cells[2]) : NaN;
  };
  add('podman run / runc', 1.4, engine('podman'));
  add('ctr run / runc', 1.6, engine('containerd'));
  const rss = ts.phases.cycle.rss.length ? median(ts.phases.cycle.rss) / 1024 : NaN;
  add('create peak RSS', 45, rss, 1, ' MiB');
  add('create+start at the largest scale / smallest', 1.2, scaleRatio);
  const p = parallel && parallel.get(ts);
  rows.push([`${parallelCount} parallel creates: failures`, '0', p ? String(p.failures) : '-', p ? (p.failures === 0 ? 'ok' : 'MISSED') : '-']);
  return rows;
}

function reportTargets(args) {
  const rows = targets(args);
  if (!rows.length) return;
  console.log('\nTargets (issue 13), all from this run:\n');
  console.log(table(['tsruntime', 'target', 'measured', ''], rows));
}

module.exports = { reportCommands, reportLifecycleRatios, reportTargets };
