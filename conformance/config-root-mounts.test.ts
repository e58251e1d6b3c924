/** config.md: root and mounts. */
import fs from 'fs';
import { execFileSync } from 'child_process';
import path from 'path';
import { clause } from './clause';
import { mountAt, mountOptions, probeBundle, runProbe } from '../test/helpers/probe';
import { leftovers } from '../test/helpers/runtime';

clause('config.md', 'root.path', 'A directory MUST exist at the path declared by the field', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => (s.root.path = 'no-such-rootfs'));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /root\.path: rootfs .*no-such-rootfs does not exist/);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

clause('config.md', 'root.path', 'path is either an absolute path or a relative path to the bundle', (t, sb) => {
  const rel = runProbe(sb, undefined, ['--stat', '/tsr-probe'], { ownRootfs: true });
  t.equal(rel.result.status, 0, `relative root.path runs: ${rel.result.stderr}`);
  t.equal(rel.facts?.stat['/tsr-probe'].type, 'f', 'the probe is there');
  const abs = runProbe(sb, (s) => t.ok(path.isAbsolute(s.root.path), 'the shared rootfs is absolute'));
  t.equal(abs.result.status, 0, `absolute root.path runs: ${abs.result.stderr}`);
});

clause('config.md', 'root.readonly', 'If true then the root filesystem MUST be read-only inside the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.root.readonly = true), ['--write', '/', '--write', '/etc/hostname']);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.write['/'], 'EROFS', 'cannot create a file in /');
  t.equal(facts?.write['/etc/hostname'], 'EROFS', 'cannot open a file for writing');
  t.ok(mountOptions(mountAt(facts!, '/')).has('ro'), '/ is mounted ro');
});

clause('config.md', 'root.readonly', 'defaults to false', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => delete s.root.readonly, ['--write', '/tmp'], { ownRootfs: true });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.write['/tmp'], 'ok', 'the rootfs is writable');
  t.ok(mountOptions(mountAt(facts!, '/')).has('rw'), '/ is mounted rw');
});

clause('config.md', 'mounts', 'The runtime MUST mount entries in the listed order', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.mounts.push({ destination: '/m', type: 'tmpfs', source: 'first', options: ['size=1m'] });
    s.mounts.push({ destination: '/m/sub', type: 'tmpfs', source: 'second', options: ['size=1m'] });
    s.mounts.push({ destination: '/m', type: 'tmpfs', source: 'third', options: ['size=1m'] });
  });
  t.equal(result.status, 0, result.stderr);
  const ours = facts!.mounts.filter((m) => ['first', 'second', 'third'].includes(m.source));
  t.same(ours.map((m) => m.source), ['first', 'second', 'third'], 'mounted in the listed order');
  const first = ours[0], second = ours[1], third = ours[2];
  t.equal(second.parent, first.id, '/m/sub is on the first /m');
  t.equal(third.parent, first.id, 'the third mount is stacked on the first /m');
  t.equal(mountAt(facts!, '/m')?.source, 'third', 'the last /m is the visible one');
});

clause('config.md', 'mounts.destination', 'a relative path MUST be interpreted as relative to "/"', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => s.mounts.push({ destination: 'rel/dir', type: 'tmpfs', source: 'reltmp' }));
  t.equal(result.status, 0, result.stderr);
  t.equal(mountAt(facts!, '/rel/dir')?.source, 'reltmp');
});

clause('config.md', 'mounts.destination', 'missing destination directories and files are created inside the rootfs', (t, sb) => {
  const file = path.join(sb.dir, 'a-file');
  fs.writeFileSync(file, 'hello\n');
  const { facts, result } = runProbe(sb, (s) => {
    s.mounts.push({ destination: '/new/deep/dir', type: 'tmpfs', source: 'tmpfs' });
    s.mounts.push({ destination: '/new/file.txt', type: 'bind', source: file, options: ['bind', 'ro'] });
  }, ['--stat', '/new/deep/dir', '--read', '/new/file.txt']);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.stat['/new/deep/dir'].type, 'd');
  t.equal(facts?.read['/new/file.txt'], 'hello\n', 'a file bind-mounted on a file');
});

clause('config.md', 'mounts.destination', 'a symlink in the rootfs never redirects a mount outside the rootfs', (t, sb) => {
  // /escape -> /tmp/<host dir> inside the rootfs: the mount must land in the rootfs, not on the host.
  const hostDir = fs.mkdtempSync(path.join(sb.dir, 'host-target-'));
  const bundle = probeBundle(sb, [], (s) => {
    s.mounts.push({ destination: '/escape/inner', type: 'tmpfs', source: 'escapetmp' });
  }, true);
  fs.symlinkSync(hostDir, path.join(bundle, 'rootfs', 'escape'));
  const id = sb.id();
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  t.notOk(fs.existsSync(path.join(hostDir, 'inner')), 'nothing was created on the host');
  const fromInside = JSON.parse(r.stdout);
  const m = fromInside.mounts.find((x: { source: string }) => x.source === 'escapetmp');
  t.ok(m, 'the tmpfs is mounted');
  t.equal(m.mountpoint, hostDir + '/inner', 'at the symlink target resolved inside the rootfs');
});

const OPTION_CASES: Array<[string, string[], (opts: Set<string>) => boolean]> = [
  ['ro', ['ro'], (o) => o.has('ro')],
  ['rw', ['ro', 'rw'], (o) => o.has('rw')],
  ['nosuid', ['nosuid'], (o) => o.has('nosuid')],
  ['suid', ['nosuid', 'suid'], (o) => !o.has('nosuid')],
  ['nodev', ['nodev'], (o) => o.has('nodev')],
  ['dev', ['nodev', 'dev'], (o) => !o.has('nodev')],
  ['noexec', ['noexec'], (o) => o.has('noexec')],
  ['exec', ['noexec', 'exec'], (o) => !o.has('noexec')],
  ['noatime', ['noatime'], (o) => o.has('noatime')],
  ['atime', ['noatime', 'atime'], (o) => !o.has('noatime')],
  ['nodiratime', ['nodiratime'], (o) => o.has('nodiratime')],
  ['diratime', ['nodiratime', 'diratime'], (o) => !o.has('nodiratime')],
  ['relatime', ['relatime'], (o) => o.has('relatime')],
  ['strictatime', ['strictatime'], (o) => !o.has('relatime') && !o.has('noatime')],
  // The kernel defaults to relatime when no atime flag is given: norelatime only clears MS_RELATIME.
  ['norelatime', ['relatime', 'norelatime'], (o) => o.has('rw')],
  ['nostrictatime', ['strictatime', 'nostrictatime'], (o) => o.has('relatime')],
  ['sync', ['sync'], (o) => o.has('sync')],
  ['async', ['sync', 'async'], (o) => !o.has('sync')],
  ['dirsync', ['dirsync'], (o) => o.has('dirsync')],
  ['nosymfollow', ['nosymfollow'], (o) => o.has('nosymfollow')],
  ['symfollow', ['nosymfollow', 'symfollow'], (o) => !o.has('nosymfollow')],
  ['defaults', ['defaults'], (o) => o.has('rw')],
  ['silent', ['silent'], (o) => o.has('rw')],
  ['loud', ['loud'], (o) => o.has('rw')],
  ['lazytime', ['lazytime'], () => true],
  ['nolazytime', ['nolazytime'], () => true],
  ['iversion', ['iversion'], () => true],
  ['noiversion', ['noiversion'], () => true],
];

clause('config.md', 'mounts.options', 'Runtimes MUST implement the mount(8) option strings (ro, rw, [no]suid, [no]dev, [no]exec, atime family, sync, async, dirsync, defaults, silent, loud, ...)', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    for (const [name, options] of OPTION_CASES) s.mounts.push({ destination: `/opt-${name}`, type: 'tmpfs', source: `opt-${name}`, options });
  });
  t.equal(result.status, 0, result.stderr);
  for (const [name, options, check] of OPTION_CASES) {
    const m = mountAt(facts!, `/opt-${name}`);
    // sync and dirsync are superblock flags: they show among the filesystem's options.
    const all = new Set([...mountOptions(m), ...(m?.superOptions ?? '').split(',')]);
    t.ok(m && check(all), `${name} (options ${options.join(',')}): mounted with ${m?.options} / ${m?.superOptions}`);
  }
});

clause('config.md', 'mounts.options', 'bind and rbind MUST bind mount, with the flags applied to the bind mount', (t, sb) => {
  const src = fs.mkdtempSync(path.join(sb.dir, 'bindsrc-'));
  fs.writeFileSync(path.join(src, 'f'), 'x');
  const { facts, result } = runProbe(sb, (s) => {
    s.mounts.push({ destination: '/b1', type: 'bind', source: src, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
    s.mounts.push({ destination: '/b2', type: 'none', source: src, options: ['rbind', 'rw'] });
  }, ['--read', '/b1/f', '--write', '/b1', '--write', '/b2']);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.read['/b1/f'], 'x', 'the source is visible');
  const b1 = mountOptions(mountAt(facts!, '/b1'));
  t.ok(b1.has('ro') && b1.has('nosuid') && b1.has('nodev') && b1.has('noexec'), `flags applied: ${[...b1]}`);
  t.equal(facts?.write['/b1'], 'EROFS');
  t.equal(facts?.write['/b2'], 'ok');
});

clause('config.md', 'mounts.options', 'Runtimes SHOULD treat unknown options as filesystem-specific ones', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.mounts.push({ destination: '/fsopts', type: 'tmpfs', source: 'tmpfs', options: ['mode=1700', 'size=2m', 'nr_inodes=100'] });
  }, ['--stat', '/fsopts']);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.stat['/fsopts'].mode, 0o1700, 'mode= reached tmpfs');
  t.match(mountAt(facts!, '/fsopts')?.superOptions, /size=2048k/, 'size= reached tmpfs');
  t.match(mountAt(facts!, '/fsopts')?.superOptions, /nr_inodes=100/, 'nr_inodes= reached tmpfs');
});

const PROPAGATION: Array<[string, (optional: string[]) => boolean]> = [
  ['shared', (o) => o.some((x) => x.startsWith('shared:'))],
  ['private', (o) => o.length === 0],
  ['slave', (o) => o.some((x) => x.startsWith('master:')) && !o.some((x) => x.startsWith('shared:'))],
  ['unbindable', (o) => o.includes('unbindable')],
];

clause('config.md', 'mounts.options', 'Runtimes MUST implement the propagation options shared, private, slave, unbindable (and their r- forms)', (t, sb) => {
  // A source that is shared on the host, so that "slave" has a master to receive from.
  const src = fs.mkdtempSync(path.join(sb.dir, 'propsrc-'));
  execFileSync('mount', ['--bind', src, src]);
  t.teardown(() => execFileSync('umount', ['-l', src]));
  execFileSync('mount', ['--make-shared', src]);
  const { facts, result } = runProbe(sb, (s) => {
    for (const [p] of PROPAGATION) {
      s.mounts.push({ destination: `/p-${p}`, type: 'bind', source: src, options: ['rbind', `r${p}`] });
      s.mounts.push({ destination: `/q-${p}`, type: 'bind', source: src, options: ['bind', p] });
    }
  });
  t.equal(result.status, 0, result.stderr);
  for (const [p, check] of PROPAGATION) {
    for (const prefix of ['p', 'q']) {
      const m = mountAt(facts!, `/${prefix}-${p}`);
      t.ok(m && check(m.optional), `${prefix === 'p' ? 'r' : ''}${p}: optional fields [${m?.optional}]`);
    }
  }
});

const REC_ATTRS: Array<[string, (o: Set<string>) => boolean]> = [
  ['rro', (o) => o.has('ro')],
  ['rnosuid', (o) => o.has('nosuid')],
  ['rnodev', (o) => o.has('nodev')],
  ['rnoexec', (o) => o.has('noexec')],
  ['rnoatime', (o) => o.has('noatime')],
  ['rnodiratime', (o) => o.has('nodiratime')],
  ['rstrictatime', (o) => !o.has('noatime') && !o.has('relatime')],
  ['rnosymfollow', (o) => o.has('nosymfollow')],
];

clause('config.md', 'mounts.options', 'Runtimes SHOULD implement the recursive options (rro, rnosuid, rnodev, rnoexec, r*atime, rnosymfollow), applied to every submount', (t, sb) => {
  // The host's /sys/fs/cgroup has a mount per hierarchy below it: a tree to rbind.
  const { facts, result } = runProbe(sb, (s) => {
    for (const [opt] of REC_ATTRS) s.mounts.push({ destination: `/rec-${opt}`, type: 'bind', source: '/sys/fs/cgroup', options: ['rbind', opt] });
  });
  t.equal(result.status, 0, result.stderr);
  for (const [opt, check] of REC_ATTRS) {
    const tree = facts!.mounts.filter((m) => m.mountpoint === `/rec-${opt}` || m.mountpoint.startsWith(`/rec-${opt}/`));
    t.ok(tree.length > 1, `${opt}: a tree of ${tree.length} mounts`);
    t.ok(tree.every((m) => check(mountOptions(m))), `${opt}: every mount of the tree has it (${tree.map((m) => m.options).join(' | ')})`);
  }
});
