/** exec --process: a runtime-spec process from a file (or stdin), checked against the schema. */
import fs from 'fs';
import type { Process } from '../generated/config';
import { RuntimeError } from '../errors';
import { validateProcess } from './validate';
import { validateProcess as processSchema } from '../generated/process-validator';

export function loadProcessFile(file: string): Process {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new RuntimeError(`--process ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new RuntimeError(`--process ${file}: invalid JSON: ${(e as Error).message}`);
  }
  const problems: string[] = validateProcess(doc, processSchema);
  if (problems.length) throw new RuntimeError(problems.map((m) => `--process ${file}: ${m}`).join('\n'));
  return doc as Process;
}
