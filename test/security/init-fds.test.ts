/**
 * A created container's init, waiting for `start`, holds no handle on the runtime's /proc: with
 * one, a process that can ptrace it (CAP_SYS_PTRACE in the container) would reach /proc/1/root,
 * the host's /. Checked from the host: every fd of the waiting init.
 */
import t from 'tap';
import fs from 'fs';
import { NEEDS_ROOT, Sandbox } from '../helpers/runtime';

t.test('the waiting init holds no fd on /proc but its own fd directory', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['true']);
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const pid = sb.state(id).pid;
  // Paths of fds on detached mounts read oddly ("/", "/1234/fd"): tell procfs fds by device.
  const procDev = fs.statSync('/proc').dev;
  const ownFdDir = fs.statSync(`/proc/${pid}/fd`).ino;
  const onProcfs = fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    const st = fs.statSync(`/proc/${pid}/fd/${fd}`);
    return st.dev === procDev ? [{ fd, link: fs.readlinkSync(`/proc/${pid}/fd/${fd}`), ownFdDir: st.ino === ownFdDir }] : [];
  });
  t.comment(`the init's procfs fds: ${JSON.stringify(onProcfs)}`);
  t.same(onProcfs.filter((f) => !f.ownFdDir), [], 'no procfs fd but its own /proc/<pid>/fd');
  t.equal(sb.tsr(['start', id]).status, 0, 'and start still works (the fifo is reopened through that directory)');
  t.ok(sb.waitStatus(id, 'stopped'), 'the process ran');
});
