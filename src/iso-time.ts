/**
 * A time as Date.prototype.toISOString writes it ("2026-12-06T15:30:00.123Z"), from Date's UTC
 * getters: the first toISOString of a process costs 0.65-0.9 ms here, the first of the getters
 * about 5 us.
 */
export function isoTime(date = new Date()): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${String(date.getUTCMilliseconds()).padStart(3, '0')}Z`
  );
}
