/** The kernel numbers the runtime keeps itself, to spare loading Node's os module, are Node's. */
import t from 'tap';
import os from 'os';
import { ERRNO, SIGNALS } from '../../src/plan/linux-constants';

t.test("SIGNALS is os.constants.signals on this architecture", async (t) => {
  t.same(SIGNALS, { ...os.constants.signals });
});

t.test('ERRNO values are os.constants.errno', async (t) => {
  for (const [name, value] of Object.entries(ERRNO)) t.equal(value, (os.constants.errno as Record<string, number>)[name], name);
});
