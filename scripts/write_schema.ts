// Writes schemas/experiment.schema.json, schemas/run-store.schema.json and the README's spec and CLI references from the code
// (src/spec/schema.ts, and the option table src/cli/options.ts through src/cli/help.ts). test/spec/schema-file.test.ts fails when either drifts.
import { readFileSync, writeFileSync } from 'node:fs';
import { experimentSchema } from '../src/spec/schema.ts';
import { cliReference } from '../src/cli/help.ts';
import { runStoreSchema } from '../src/track/store-format.ts';

export const SCHEMA_FILE = new URL('../schemas/experiment.schema.json', import.meta.url);
export const README_FILE = new URL('../README.md', import.meta.url);
export const schemaText = (): string => JSON.stringify(experimentSchema, null, 2) + '\n';
export const STORE_SCHEMA_FILE = new URL('../schemas/run-store.schema.json', import.meta.url);
export const storeSchemaText = (): string => JSON.stringify(runStoreSchema, null, 2) + '\n';

type S = Record<string, any>;

function typeName(s: S): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v: unknown) => JSON.stringify(v)).join(' \\| ');
  if (s.oneOf && !s.discriminator) return s.oneOf.map(typeName).join(' or ');
  if (s.type === 'array') return s.items ? `list of ${typeName(s.items)}` : 'list';
  if (s.discriminator) return `one of ${s.oneOf.length} kinds`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return 'map';
  return s.type ?? 'value';
}

function bounds(s: S): string {
  const b: string[] = [];
  if (s.minimum !== undefined) b.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) b.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) b.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) b.push(`< ${s.exclusiveMaximum}`);
  return b.length ? ` (${b.join(', ')})` : '';
}

interface Row {
  field: string;
  type: string;
  def: string;
  meaning: string;
  kinds: string[];
}

/** One row per field; a field shared by several kinds of a discriminated union is listed once. */
function rows(s: S, path: string, required: boolean, out: Map<string, Row>, kind?: string): void {
  const def = s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required ? 'required' : '';
  const row = { field: path, type: typeName(s) + bounds(s), def, meaning: (s.description ?? '').replace(/\|/g, '\\|'), kinds: [] as string[] };
  if (path) {
    const key = JSON.stringify([row.field, row.type, row.def, row.meaning]);
    const seen = out.get(key) ?? (out.set(key, row), row);
    if (kind) seen.kinds.push(kind);
  }
  if (s.type === 'array' && (s.items?.discriminator || s.items?.oneOf)) return rows(s.items, `${path}[]`, false, out, kind);
  if (s.discriminator) {
    const tag = s.discriminator.propertyName;
    const values = s.oneOf.map((b: S) => b.properties[tag].const);
    rows({ enum: values, description: 'Selects the kind; rows marked with a kind apply to it alone.' }, `${path}.${tag}`, true, out, kind);
    for (const b of s.oneOf as S[]) {
      for (const [k, child] of Object.entries(b.properties as S)) {
        if (k !== tag) rows(child as S, `${path}.${k}`, (b.required ?? []).includes(k), out, `${tag}: ${b.properties[tag].const}`);
      }
    }
    return;
  }
  const branches: S[] = s.oneOf ? s.oneOf.filter((b: S) => b.properties) : s.type === 'object' && s.properties ? [s] : [];
  for (const b of branches) {
    for (const [k, child] of Object.entries(b.properties as S)) rows(child as S, `${path ? path + '.' : ''}${k}`, (b.required ?? []).includes(k), out, kind);
  }
}

export function specReference(): string {
  const out = new Map<string, Row>();
  rows(experimentSchema as S, '', true, out);
  const lines = [...out.values()].map((r) => {
    const kinds = r.kinds.length ? ` (${r.kinds.join(', ').replace(/, (\w+): /g, ', ')})` : '';
    return `| \`${r.field}\`${kinds} | ${r.type} | ${r.def} | ${r.meaning} |`;
  });
  return ['| field | type | default | meaning |', '|---|---|---|---|', ...lines].join('\n');
}

export function replaceBetween(text: string, marker: string, body: string): string {
  const start = `<!-- ${marker}:start -->`;
  const end = `<!-- ${marker}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the ${start} … ${end} markers`);
  return text.slice(0, i + start.length) + '\n' + body + '\n' + text.slice(j);
}

export function readmeText(): string {
  const readme = readFileSync(README_FILE, 'utf8');
  return replaceBetween(replaceBetween(readme, 'spec-reference', specReference()), 'cli-reference', cliReference());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_FILE, schemaText());
  writeFileSync(STORE_SCHEMA_FILE, storeSchemaText());
  writeFileSync(README_FILE, readmeText());
  console.log('wrote schemas/experiment.schema.json, schemas/run-store.schema.json and the README references');
}
