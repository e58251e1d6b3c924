/**
 * What the runtime's modules cost to load, as tsc compiles them. Every CLI call is a fresh Node
 * process that evaluates some 20 (state) to 90 (run) of them, without V8's JIT.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';

const PROJECT = path.resolve(__dirname, '..', '..', '..');
const SRC = path.join(PROJECT, 'src');
const DIST_SRC = path.join(PROJECT, 'dist', 'src');

/** Every module of src/, as the compiled file tsc made of it. */
function compiledModules(): string[] {
  return (fs.readdirSync(SRC, { recursive: true }) as string[])
    .filter((rel) => rel.endsWith('.ts') && !rel.endsWith('.d.ts'))
    .map((rel) => path.join(DIST_SRC, rel.replace(/\.ts$/, '.js')));
}

// `import * as fs from 'fs'` compiles, with esModuleInterop, to __importStar(require("fs")): a new
// object with a getter closure per export of the module, made again by every file that imports
// it. fs has some 100 exports, and create's modules did it 55 times: about 4 ms of create, and
// the garbage that cost it three scavenges (a default import, `import fs from 'fs'`, is one small
// wrapper object).
t.test("no module of the runtime copies a module's namespace when it loads (__importStar)", async (t) => {
  const files = compiledModules();
  t.ok(files.length > 100, `the check sees the compiled modules (${files.length})`);
  const missing = files.filter((f) => !fs.existsSync(f));
  t.same(missing, [], 'every module of src/ is compiled (npm run build)');
  const offenders = files.filter((f) => fs.existsSync(f) && fs.readFileSync(f, 'utf8').includes('__importStar(')).map((f) => path.relative(PROJECT, f));
  t.same(offenders, [], 'no compiled module calls __importStar');
});
