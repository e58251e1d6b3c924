#!/usr/bin/env node
'use strict';
/**
 * Build step 2 of 3: precompiled (ajv "standalone") validators for the JSON Schemas in schemas/.
 *
 * Writes, per schema, a CommonJS module of its validator alone (a command loads only the one it
 * checks with: exec's process validator is a quarter the size of config.json's, which exec never needs)
 *   dist/src/generated/spec-validator.js     exports validateSpec     (config.schema.json)
 *   dist/src/generated/process-validator.js  exports validateProcess  (process.schema.json)
 *   dist/src/generated/state-validator.js    exports validateState    (state.schema.json)
 * plain generated code (requiring one compiles no schema), and their declarations,
 *   src/generated/<module>.d.ts, and src/generated/validator-types.d.ts for the types they share,
 * so tsc can type-check the imports.
 *
 * The .js go straight to dist/ because tsc does not copy .js files out of src/. Run after
 * gen-types.js (the .d.ts import the generated types) and before tsc.
 * Output is deterministic; files are rewritten only when their content changes.
 */
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv').default;
const standaloneCode = require('ajv/dist/standalone').default;

const ROOT = path.resolve(__dirname, '..');
const SCHEMAS = path.join(ROOT, 'schemas');
const OUT_JS = path.join(ROOT, 'dist', 'src', 'generated');
const OUT_DTS = path.join(ROOT, 'src', 'generated');

/** module -> [exported name, schema file, TypeScript type the validator narrows to] */
const MODULES = {
  'spec-validator': ['validateSpec', 'config.schema.json', 'Spec'],
  'process-validator': ['validateProcess', 'process.schema.json', 'Process'],
  'state-validator': ['validateState', 'state.schema.json', 'State'],
};

const HEADER = '// generated from schemas/ by scripts/gen-validators.js; do not edit.\n';

function writeIfChanged(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (old !== text) fs.writeFileSync(file, text);
  return old === text;
}

/**
 * Drop "title" and "description": they do not affect validation, and ajv copies schema objects
 * into the generated code, so they would only make it bigger (and slower to load).
 */
function stripAnnotations(node) {
  if (Array.isArray(node)) return node.map(stripAnnotations);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'title' || key === 'description') && typeof value === 'string') continue;
    // keys of "properties" are names, not keywords: keep them all
    out[key] = key === 'properties' ? mapValues(value, stripAnnotations) : stripAnnotations(value);
  }
  return out;
}

function mapValues(obj, fn) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) out[k] = fn(v);
  return out;
}

/**
 * ajv's standalone code declares a constant for each schema it compiled (`const schema31 = {...};`,
 * one line each) whether its code reads it or not: 43 of 63 here are never read, 24 KB of source
 * that every create and exec loads and turns into objects (about 80 KB of heap). Those are
 * dropped; a constant whose name appears anywhere else in the code is kept.
 */
function withoutUnusedSchemas(js) {
  return js
    .split('\n')
    .filter((line) => {
      // Only a whole declaration on its line (it ends with ';'): never the first line of a longer one.
      const m = /^const (schema\d+) = .*;$/.exec(line);
      return !m || js.match(new RegExp(`\\b${m[1]}\\b`, 'g')).length > 1;
    })
    .join('\n');
}

function main() {
  const written = [];
  const write = (file, text) => written.push(`${path.relative(ROOT, file)}${writeIfChanged(file, text) ? ' (unchanged)' : ''}`);
  for (const [module, [name, file, type]] of Object.entries(MODULES)) {
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      strictRequired: false, // `then: { required: [...] }` names properties declared by the parent schema
      code: { source: true, esm: false, lines: true },
      messages: true,
      // One function per referenced $defs entry instead of copying it into every user: a third of the
      // code size, and so of the time require() takes to parse it.
      inlineRefs: false,
    });
    // Every schema, for the $refs between them; only this module's is compiled into its code.
    let id;
    for (const f of fs.readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json')).sort()) {
      const schema = stripAnnotations(JSON.parse(fs.readFileSync(path.join(SCHEMAS, f), 'utf8')));
      if (typeof schema.$id !== 'string') throw new Error(`gen-validators: ${f} has no $id`);
      ajv.addSchema(schema);
      if (f === file) id = schema.$id;
    }
    if (id === undefined) throw new Error(`gen-validators: no schemas/${file}`);
    // Compile now, so that schema mistakes fail the build with ajv's message.
    ajv.getSchema(id);
    const js = withoutUnusedSchemas(HEADER + standaloneCode(ajv, { [name]: id }) + '\n');
    // The generated code must not pull ajv's compiler in at run time: only small runtime helpers.
    for (const m of js.matchAll(/require\(("[^"]*"|'[^']*')\)/g)) {
      const mod = m[1].slice(1, -1);
      if (!mod.startsWith('ajv/dist/runtime/')) throw new Error(`gen-validators: generated code requires ${mod}`);
    }
    write(path.join(OUT_JS, `${module}.js`), js);
    write(path.join(OUT_DTS, `${module}.d.ts`), [
      HEADER,
      `import type { ${type} } from './config';`,
      "import type { ValidateFunction } from './validator-types';",
      '',
      `/** Checks a document against schemas/${file}. */`,
      `export declare const ${name}: ValidateFunction<${type}>;`,
      '',
    ].join('\n'));
  }
  write(path.join(OUT_DTS, 'validator-types.d.ts'), [
    HEADER,
    '/** One ajv error (the fields validate.ts uses). */',
    'export interface ValidationError {',
    '  /** JSON Pointer to the offending value; "" for the document itself. */',
    '  instancePath: string;',
    '  /** JSON Pointer into the schema, e.g. "#/$defs/Process/properties/args/minItems". */',
    '  schemaPath: string;',
    '  keyword: string;',
    '  params: Record<string, any>;',
    '  message?: string;',
    '  /** Set on errors about an object key (propertyNames): the offending key. */',
    '  propertyName?: string;',
    '}',
    '',
    'export interface ValidateFunction<T> {',
    '  (data: unknown): data is T;',
    '  /** Problems found by the last call; null when it passed. */',
    '  errors?: ValidationError[] | null;',
    '}',
    '',
  ].join('\n'));
  // The single module of earlier builds: gone, so nothing can load it by mistake.
  fs.rmSync(path.join(OUT_JS, 'validators.js'), { force: true });
  fs.rmSync(path.join(OUT_DTS, 'validators.d.ts'), { force: true });
  process.stdout.write(`gen-validators: ${written.join(', ')}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`gen-validators: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
