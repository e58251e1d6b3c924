/**
 * --debug's timing marks in the init and exec plans: only when asked for, one at the start of
 * each op group in plan order, and a last one just before READY.
 */
import t from 'tap';
import { plan } from '../helpers/plan';
import { buildExecPlan, ExecPlanInput } from '../../src/plan/build-exec-plan';
import type { Op } from '../../src/plan/ops';

const marks = (ops: Op[]) => ops.filter((o) => o.op === 'MARK').map((o) => o.tag ?? '(end)');

t.test('the init plan: no mark without trace, one per group with it', async (t) => {
  t.same(marks(plan().ops), [], 'a normal run reads no clock');
  const traced = plan(undefined, { trace: true, hookSyncs: true, cgroupJoin: ['/sys/fs/cgroup/memory/tsruntime/c1'] });
  t.same(marks(traced.ops), [
    'cgroup', 'namespaces', 'wait for createRuntime hooks', 'mounts', 'devices', 'wait for createContainer hooks', 'rootfs', 'process', 'exec', '(end)',
  ]);
  const at = (op: Op['op'], tag?: string) => traced.ops.findIndex((o) => o.op === op && (tag === undefined || o.tag === tag));
  t.equal(at('MARK', 'cgroup'), 0, 'the first op: the cgroup join is timed too');
  t.equal(at('SYNC', 'createRuntime'), at('MARK', 'wait for createRuntime hooks') + 1, 'a hook sync is a group of its own');
  t.equal(at('MARK', 'mounts'), at('SYNC', 'createRuntime') + 1);
  t.ok(at('MARK', 'rootfs') < at('PIVOT_ROOT') && at('PIVOT_ROOT') < at('MARK', 'process'), 'pivot_root is in the rootfs group');
  t.ok(at('MARK', 'process') < at('CAP_BOUNDING') && at('CAP_BOUNDING') < at('MARK', 'exec'), 'capabilities in the process group');
  t.equal(traced.ops[at('READY') - 1].op, 'MARK', 'the last mark comes just before READY');
  t.equal(traced.ops[at('READY') - 1].tag, undefined, 'and starts no group');
  t.same(marks(plan(undefined, { trace: true }).ops), ['namespaces', 'mounts', 'devices', 'rootfs', 'process', 'exec', '(end)'], 'no hooks, no v1 cgroup join');
});

t.test('seccomp with noNewPrivileges is loaded after FIND_EXEC: timed in the exec group', async (t) => {
  const p = plan(
    (s) => {
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mknod'], action: 'SCMP_ACT_ERRNO' }] };
    },
    { trace: true, compileSeccomp: () => Buffer.alloc(8) },
  );
  const names = p.ops.map((o) => (o.op === 'MARK' ? `MARK ${o.tag ?? '(end)'}` : o.op));
  t.same(names.slice(names.indexOf('MARK exec'), names.indexOf('READY') + 1), ['MARK exec', 'FIND_EXEC', 'SECCOMP', 'MARK (end)', 'READY']);
});

t.test('the exec plan', async (t) => {
  const input: ExecPlanInput = {
    process: { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } },
    spec: { ociVersion: '1.2.0', root: { path: '/' } },
    namespaceFds: { mount: 5 },
    lastCap: 40,
  };
  t.same(marks(buildExecPlan(input).ops), []);
  const ops = buildExecPlan({ ...input, trace: true }).ops;
  t.same(marks(ops), ['namespaces', 'process', 'exec', '(end)']);
  t.ok(ops.findIndex((o) => o.op === 'FORK') < ops.findIndex((o) => o.tag === 'process'), 'the fork is in the namespaces group');
});
