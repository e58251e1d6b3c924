'use strict';
/**
 * Each command alone, against bare Node: create, start, state, list, kill and delete of one `sleep`
 * container, each call timed next to a `node -e 0` (the floor of any command of a runtime that is a
 * fresh Node process), so both see the same machine noise.
 */
const { ctx, call, rtCall, untilStopped, forget, forceDelete } = require('./calls');

const COMMANDS = ['create', 'start', 'state', 'list', 'kill', 'delete'];

/** Node as bin/tsruntime starts it: without NODE_OPTIONS and NODE_EXTRA_CA_CERTS. */
const NODE_ENV = { ...process.env };
delete NODE_ENV.NODE_OPTIONS;
delete NODE_ENV.NODE_EXTRA_CA_CERTS;

function bareNode() {
  return call(process.execPath, ['-e', '0'], { env: NODE_ENV }).ms;
}

/**
 * One round for one runtime: { ms: { create, start, ... }, node: [ms, ...] }, or throws CallError.
 * The container is killed with SIGKILL and deleted once `state` says it stopped.
 */
function measureCommands(rt, id) {
  const ms = {};
  const node = [];
  const timed = (cmd, args) => {
    node.push(bareNode());
    ms[cmd] = rtCall(rt, args).ms;
  };
  ctx.live.push({ rt, id });
  let ok = false;
  try {
    timed('create', ['create', '--bundle', rt.bundles.sleep, id]);
    timed('start', ['start', id]);
    timed('state', ['state', id]);
    timed('list', ['list']);
    timed('kill', ['kill', id, 'KILL']);
    untilStopped(rt, id);
    timed('delete', ['delete', id]);
    ok = true;
    forget(rt, id);
    return { ms, node };
  } finally {
    if (!ok) forceDelete(rt, id);
  }
}

module.exports = { COMMANDS, measureCommands, bareNode };
