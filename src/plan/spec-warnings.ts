/**
 * Things runc accepts but warns about: deprecated, still applied. They go into the plan's warnings,
 * which create logs (stderr, or --log); never a reason to fail.
 */
import type { Spec } from '../generated/config';

export function specWarnings(spec: Spec): string[] {
  const warnings: string[] = [];
  (spec.mounts ?? []).forEach((m, i) => {
    if (!m.destination.startsWith('/')) {
      warnings.push(`mounts[${i}].destination: relative path ${JSON.stringify(m.destination)} is deprecated; it is taken as relative to /`);
    }
  });
  if (spec.hooks?.prestart?.length) warnings.push('hooks.prestart: deprecated; use createRuntime');
  return warnings;
}
