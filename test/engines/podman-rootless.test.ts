/**
 * Rootless Podman end to end, as a plain user made for the test, with tsruntime and with runc:
 * the scenarios every engine runs (those needing cgroups or a bridge are skipped, saying why),
 * plus --userns=keep-id. See ../helpers/rootless-podman.ts.
 */
import t from 'tap';
import { RootlessPodman } from '../helpers/rootless-podman';
import { engineSuite } from './scenarios';

const show = (r: { status: number; stdout: string; stderr: string }) => `exit ${r.status}; stdout ${JSON.stringify(r.stdout)}; stderr ${JSON.stringify(r.stderr)}`;

engineSuite(t, 'rootless podman', RootlessPodman.missing, async (t) => {
  const e = await RootlessPodman.create(t);
  t.comment(`rootless podman: user ${e.user.name} (uid ${e.user.uid}, subuids ${e.user.subuid?.start}+${e.user.subuid?.count}), ${e.storage} storage`);
  return e;
}, (t, engine, rt) => {
  const e = engine as RootlessPodman;
  t.test('run --rm as root of the container: the user outside, its subordinate ids after', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'id -u; cat /proc/self/uid_map']);
    t.equal(r.status, 0, show(r));
    t.match(r.stdout, new RegExp(`^0\\n\\s*0\\s+${e.user.uid}\\s+1\\n\\s*1\\s+${e.user.subuid!.start}\\s+${e.user.subuid!.count}\\n$`));
  });

  t.test('--userns=keep-id: the user is itself in the container', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'id -u; id -g; touch /tmp/x && stat -c %u /tmp/x'], { keepId: true });
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, `${e.user.uid}\n${e.user.gid}\n${e.user.uid}\n`);
  });
});
