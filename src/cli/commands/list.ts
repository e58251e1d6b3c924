import type { Command } from '../command';
import { listContainers } from '../../lifecycle/state';
import { writeStdout } from '../../log';
import { RuntimeError } from '../../errors';

export const command: Command = {
  describe: 'list the containers under --root',
  args: '',
  flags: {
    format: { type: 'string', alias: ['f'], describe: 'table or json', default: 'table' },
    quiet: { type: 'bool', alias: ['q'], describe: 'print only the ids' },
  },
  run(g, p) {
    const rows = listContainers(g.store());
    if (p.flags.quiet) {
      writeStdout(rows.map((r) => `${r.id}\n`).join(''));
      return 0;
    }
    const format = p.flags.format as string;
    if (format === 'json') {
      writeStdout(JSON.stringify(rows) + '\n');
      return 0;
    }
    if (format !== 'table') throw new RuntimeError(`invalid format option: ${format}`);
    const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((r) => [r.id, r.pid, r.status, r.bundle, r.created, r.owner || 'root'].map(String))];
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    writeStdout(table.map((row) => row.map((cell, c) => (c < row.length - 1 ? cell.padEnd(widths[c] + 3) : cell)).join('')).join('\n') + '\n');
    return 0;
  },
};
