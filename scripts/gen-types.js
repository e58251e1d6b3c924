#!/usr/bin/env node
'use strict';
/**
 * Build step 1 of 3: TypeScript types from the JSON Schemas in schemas/.
 *
 *   schemas/config.schema.json -> Spec, Process, Mount, Linux, ... (one type per titled $defs entry)
 *   schemas/state.schema.json  -> State, ContainerStatus
 *
 * Both go into src/generated/config.ts. schemas/process.schema.json is only a $ref to
 * config.schema.json#/$defs/Process, so it adds no type of its own.
 *
 * Untitled $defs (uint32, int64, stringArray, mapStringString, ...) are inlined before
 * compiling, so they become `number`, `string[]`, `{[k: string]: string}` instead of
 * noise aliases such as `Uint32`. The output is deterministic: same schemas, same file;
 * the file is rewritten only when its content changes.
 */
const fs = require('fs');
const path = require('path');
const { compile } = require('json-schema-to-typescript');

const ROOT = path.resolve(__dirname, '..');
const SCHEMAS = path.join(ROOT, 'schemas');
const OUT = path.join(ROOT, 'src', 'generated', 'config.ts');

const HEADER = [
  '/* eslint-disable */',
  '/**',
  ' * generated from schemas/ by scripts/gen-types.js; do not edit.',
  ' * Sources: schemas/config.schema.json (Spec and its parts), schemas/state.schema.json (State).',
  ' */',
  '',
].join('\n');

/** The documents to compile, in output order, with the name of their root type. */
const SOURCES = [
  { file: 'config.schema.json', name: 'Spec' },
  { file: 'state.schema.json', name: 'State' },
];

function readSchema(file) {
  return JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), 'utf8'));
}

/**
 * Return a copy of `schema` in which every local `$ref` to an untitled `$defs` entry is replaced
 * by (a processed copy of) that entry. Titled entries stay references, so they become named types.
 * Untitled entries are then dropped from `$defs`.
 */
function inlineUntitled(schema) {
  const defs = schema.$defs || {};
  const seen = [];
  function walk(node) {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/')) {
      const name = node.$ref.slice('#/$defs/'.length);
      const target = defs[name];
      if (!target) throw new Error(`gen-types: unresolved $ref ${node.$ref}`);
      if (!target.title) {
        if (seen.includes(name)) throw new Error(`gen-types: recursive untitled $defs entry ${name}`);
        seen.push(name);
        const { description, ...rest } = node;
        const inlined = walk({ ...target, ...rest, $ref: undefined });
        seen.pop();
        delete inlined.$ref;
        if (description) inlined.description = description;
        return inlined;
      }
    }
    const out = {};
    for (const key of Object.keys(node)) out[key] = walk(node[key]);
    return out;
  }
  const result = walk(schema);
  delete result.$id;
  delete result.$schema;
  if (result.$defs) {
    for (const name of Object.keys(result.$defs)) if (!defs[name].title) delete result.$defs[name];
  }
  return result;
}

async function main() {
  const parts = [];
  for (const { file, name } of SOURCES) {
    const schema = inlineUntitled(readSchema(file));
    const ts = await compile(schema, name, {
      bannerComment: '',
      cwd: SCHEMAS,
      declareExternallyReferenced: true,
      unreachableDefinitions: false,
      ignoreMinAndMaxItems: true, // plain string[] for args: the schema, not the type, enforces minItems
      unknownAny: true,
      strictIndexSignatures: false,
      additionalProperties: true, // only the top-level objects leave it unset: forward compatibility
      format: true,
      style: { singleQuote: true, printWidth: 100, trailingComma: 'all', endOfLine: 'lf' },
    });
    parts.push(`// ---- ${file} ----\n\n${ts.trim()}\n`);
  }
  const text = HEADER + '\n' + parts.join('\n');

  // Each exported name must be declared once across all sources.
  const names = new Map();
  for (const m of text.matchAll(/^export (?:type|interface|enum|const enum) (\w+)/gm)) {
    if (names.has(m[1])) throw new Error(`gen-types: type ${m[1]} is declared by more than one schema`);
    names.set(m[1], true);
  }
  for (const required of ['Spec', 'Process', 'Mount', 'State']) {
    if (!names.has(required)) throw new Error(`gen-types: expected type ${required} was not generated`);
  }

  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  const old = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : null;
  if (old !== text) fs.writeFileSync(OUT, text);
  process.stdout.write(
    `gen-types: ${path.relative(ROOT, OUT)} (${names.size} types${old === text ? ', unchanged' : ''})\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`gen-types: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
