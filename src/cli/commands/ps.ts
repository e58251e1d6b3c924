import { spawnSync } from 'child_process';
import type { Command } from '../command';
import { requireId } from '../command';
import { RuntimeError } from '../../errors';
import { containerPids } from '../../lifecycle/ps';
import { writeStdout } from '../../log';

export const command: Command = {
  describe: 'list the processes of a container (host pids); extra arguments go to ps(1)',
  args: '<container-id> [ps options]',
  flags: {
    format: { type: 'string', alias: ['f'], describe: 'table or json', default: 'table' },
  },
  run(g, p) {
    const id = requireId(p, 'ps');
    const pids = containerPids(g.store(), id);
    const format = p.flags.format as string;
    if (format === 'json') {
      writeStdout(JSON.stringify(pids) + '\n');
      return 0;
    }
    if (format !== 'table') throw new RuntimeError(`invalid format option: ${format}`);
    const psArgs = p.positionals.length > 1 ? p.positionals.slice(1) : ['-ef'];
    const res = spawnSync('ps', psArgs, { encoding: 'utf8' });
    if (res.status !== 0) throw new RuntimeError(`ps ${psArgs.join(' ')}: ${res.stderr.trim() || `exit status ${res.status}`}`);
    const lines = res.stdout.split('\n');
    const pidCol = lines[0].trim().split(/\s+/).indexOf('PID');
    if (pidCol < 0) throw new RuntimeError("couldn't find PID field in ps output");
    const set = new Set(pids);
    writeStdout([lines[0], ...lines.slice(1).filter((l) => set.has(Number(l.trim().split(/\s+/)[pidCol])))].join('\n') + '\n');
    return 0;
  },
};
