#!/usr/bin/env node
// Generates crates/wasm/ts/types.d.ts, the TypeScript types of every value that crosses the wasm
// boundary, from the JSON Schemas the Rust types produce (never written by hand):
//   docs/schemas/*.schema.json         the core's shapes (`cargo run -p embedgate-cli -- docs`)
//   crates/wasm/schemas/wasm.schema.json  this layer's shapes and the request bodies
//                                          (`EMBEDGATE_UPDATE_SCHEMAS=1 cargo test -p embedgate-wasm --lib`)
// The file is compiled into the wasm-bindgen .d.ts (typescript_custom_section), so the module's own
// typings are self-contained. `--check` fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = [
  ['scenario', 'docs/schemas/scenario.schema.json'],
  ['report', 'docs/schemas/report.schema.json'],
  ['capabilities', 'docs/schemas/capabilities.schema.json'],
  ['rules', 'docs/schemas/rules.schema.json'],
  ['explanations', 'docs/schemas/explanations.schema.json'],
  ['wasm', 'crates/wasm/schemas/wasm.schema.json'],
];

const pascal = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// Rewrites every `#/$defs/Name` reference of one schema through `rename`. A $ref loses the
// annotations beside it (description, default): json-schema-to-typescript would otherwise emit a
// numbered copy of the referenced type (Severity1).
function rewriteRefs(node, rename) {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, rename));
  if (!node || typeof node !== 'object') return node;
  if (typeof node.$ref === 'string' && node.$ref.startsWith('#/$defs/')) {
    const ref = { $ref: `#/definitions/${rename(node.$ref.slice('#/$defs/'.length))}` };
    return ref;
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, rewriteRefs(v, rename)]));
}

const defs = {};
const roots = {}; // exported name -> schema of the document root
const loaded = sources.map(([key, path]) => [key, JSON.parse(readFileSync(join(root, path), 'utf8'))]);

// Document roots first: their titles are the names the API uses (Scenario, Report, ...).
const rootName = {};
for (const [key, s] of loaded) {
  if (key === 'wasm') continue;
  rootName[key] = s.type === 'array' ? `${key}Root` : s.title;
}

for (const [key, schema] of loaded) {
  const own = schema.$defs ?? {};
  const taken = new Set(Object.values(rootName));
  // A definition whose name another document already uses for a different shape gets the
  // document's name as a prefix (the scenario's report item becomes ScenarioReport).
  const names = {};
  for (const [name, def] of Object.entries(own)) {
    const clash = (taken.has(name) && rootName[key] !== name) || (defs[name] && !same(defs[name], rewriteRefs(def, (n) => n)));
    names[name] = clash ? `${pascal(key)}${name}` : name;
  }
  const rename = (n) => names[n] ?? n; // refs to names the document lacks resolve elsewhere (wasm -> Report)
  for (const [name, def] of Object.entries(own)) {
    const body = rewriteRefs(def, rename);
    const target = names[name];
    if (defs[target] && !same(defs[target], body)) throw new Error(`conflicting definitions of ${target}`);
    defs[target] = body;
  }
  if (key !== 'wasm') {
    const { $defs, $schema, title, ...rest } = schema;
    roots[rootName[key]] = rewriteRefs(rest, rename);
  }
}
for (const [name, body] of Object.entries(roots)) {
  if (name.endsWith('Root')) continue; // arrays (Rule[], Explanation[]) need no named type
  defs[name] = body;
}
for (const [name, def] of Object.entries(defs)) defs[name] = { ...def, title: name };

const combined = {
  title: 'EmbedgateTypes',
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(Object.keys(defs).sort().map((n) => [n, { $ref: `#/definitions/${n}` }])),
  definitions: Object.fromEntries(Object.keys(defs).sort().map((n) => [n, defs[n]])),
};

// Compiles one combined schema to TypeScript: `out` is rewritten, or with `--check` compared.
async function emit(outRel, combined, header) {
  const name = combined.title;
  let ts = await compile(combined, name, {
    bannerComment: '',
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    format: true,
    style: { singleQuote: true, printWidth: 110 },
  });
  // The aggregate interface only served to reach every definition; so do the notes saying so.
  ts = ts.replace(new RegExp(`export interface ${name} \\{[\\s\\S]*?\\n\\}\\n`), '');
  ts = ts.replace(new RegExp(`\\n \\*\\n \\* This (?:interface|type) was referenced by \`${name}\`'s JSON-Schema\\n \\* via the \`definition\` "\\w+"\\.`, 'g'), '');
  ts = ts.replace(new RegExp(`/\\*\\*\\n \\* This (?:interface|type) was referenced by \`${name}\`'s JSON-Schema\\n \\* via the \`definition\` "\\w+"\\.\\n \\*/\\n`, 'g'), '');
  const text = header + ts.trim() + '\n';
  const out = join(root, outRel);
  if (process.argv.includes('--check')) {
    let old = '';
    try {
      old = readFileSync(out, 'utf8');
    } catch {}
    if (old !== text) {
      console.error(`${outRel} is stale: run \`node scripts/gen-types.mjs\``);
      process.exitCode = 1;
    }
  } else {
    writeFileSync(out, text);
  }
}

await emit(
  'crates/wasm/ts/types.d.ts',
  combined,
  '// Generated by scripts/gen-types.mjs from docs/schemas/*.schema.json and crates/wasm/schemas/wasm.schema.json.\n' +
    '// Do not edit: regenerate with `node scripts/gen-types.mjs`.\n\n',
);

// The token endpoint's bodies for the portal library (packages/embed), from crates/edge/src/api.rs.
const edge = JSON.parse(readFileSync(join(root, 'docs/schemas/edge-api.schema.json'), 'utf8'));
const edgeDefs = Object.fromEntries(
  Object.entries(edge.$defs).map(([n, d]) => [n, { ...rewriteRefs(d, (x) => x), title: n }]),
);
const edgeRoots = Object.keys(edge.properties).map((p) => edge.properties[p].$ref.slice('#/$defs/'.length));
await emit(
  'packages/embed/src/api.ts',
  {
    title: 'EdgeApi',
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(edgeRoots.map((n) => [n, { $ref: `#/definitions/${n}` }])),
    definitions: Object.fromEntries(Object.keys(edgeDefs).sort().map((n) => [n, edgeDefs[n]])),
  },
  '// Generated by scripts/gen-types.mjs from docs/schemas/edge-api.schema.json (crates/edge/src/api.rs).\n' +
    '// Do not edit: regenerate with `cargo run -p embedgate-cli -- docs && node scripts/gen-types.mjs`.\n\n',
);
