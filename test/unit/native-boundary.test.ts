/** Only src/native/ loads koffi: everything else reaches native code through its typed modules. */
import t from 'tap';
import fs from 'fs';
import path from 'path';

const PROJECT = path.resolve(__dirname, '..', '..', '..');
const NATIVE = path.join(PROJECT, 'src', 'native') + path.sep;
/** A require or dynamic import of the koffi package, or an import declaration from it. */
const LOADS_KOFFI = /\b(?:require|import)\s*\(\s*['"`]koffi['"`]\s*\)|\bfrom\s+['"]koffi['"]/;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|js|cjs|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

t.test('no file outside src/native/ loads koffi', async (t) => {
  const files = ['src', 'test', 'conformance', 'scripts', 'bin'].filter((d) => fs.existsSync(path.join(PROJECT, d))).flatMap((d) => sources(path.join(PROJECT, d)));
  t.ok(files.some((f) => f.startsWith(NATIVE) && LOADS_KOFFI.test(fs.readFileSync(f, 'utf8'))), 'the check sees src/native/ load koffi');
  const offenders = files.filter((f) => !f.startsWith(NATIVE) && LOADS_KOFFI.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(PROJECT, f));
  t.same(offenders, [], 'only src/native/ loads koffi');
});

t.test('inside src/native/, only koffi.ts loads the koffi package: the others go through loadKoffi()', async (t) => {
  // koffi's own entry loads https, crypto and zlib (its installer) on every require: koffi.ts
  // loads its native module instead, and is the one place that knows how.
  const files = sources(NATIVE).filter((f) => LOADS_KOFFI.test(fs.readFileSync(f, 'utf8')));
  t.same(files.map((f) => path.relative(PROJECT, f)), [path.join('src', 'native', 'koffi.ts')]);
});
