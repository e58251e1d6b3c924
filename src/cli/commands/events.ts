import type { Command } from '../command';
import { requireId } from '../command';
import { writeStdout } from '../../log';
import { parseDuration, runEvents } from '../../lifecycle/events';

export const command: Command = {
  describe: 'display container events: OOM notifications and cpu, memory, pids, IO and hugetlb usage (JSON lines)',
  args: '<container-id>',
  flags: {
    interval: { type: 'string', describe: 'the stats collection interval (a Go duration: 5s, 500ms, 1m)', default: '5s' },
    stats: { type: 'bool', describe: "display the container's stats once, then exit" },
  },
  async run(g, p) {
    const id = requireId(p, 'events');
    await runEvents(
      g.store(),
      id,
      { stats: Boolean(p.flags.stats), intervalMs: parseDuration(String(p.flags.interval)) },
      (line) => writeStdout(line + '\n'),
      (msg) => g.log.warn(msg),
    );
    return 0;
  },
};
