/** isoTime (src/iso-time.ts) writes what Date.prototype.toISOString writes. */
import t from 'tap';
import { isoTime } from '../../src/iso-time';

t.test('isoTime matches toISOString', async (t) => {
  const times = [0, 1, 999, 1000, 59_999, 951_782_400_000 /* 2000-02-29 */, 1_765_032_000_123, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(9999, 0, 1), Date.now()];
  for (const ms of times) t.equal(isoTime(new Date(ms)), new Date(ms).toISOString(), new Date(ms).toISOString());
  t.match(isoTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'now, in the same shape');
});
