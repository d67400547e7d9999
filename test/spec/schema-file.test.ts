import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { README_FILE, SCHEMA_FILE, readmeText, schemaText } from '../../scripts/write_schema.ts';
import { HELP } from '../../src/cli/help.ts';
import { tunespec } from '../helpers/cli.ts';

test('the published JSON schema is the one src/spec/schema.ts defines (npm run schema regenerates it)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaText());
});

test("the README's spec and CLI references match the schema and --help (npm run schema regenerates them)", () => {
  assert.equal(readFileSync(README_FILE, 'utf8'), readmeText());
});

test('tunespec --help prints the documented help', () => {
  const r = tunespec(['--help']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, HELP + '\n');
});
