import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SCHEMA_FILE, schemaText } from '../../scripts/write_schema.ts';

test('the published JSON schema is the one src/spec/schema.ts defines (npm run schema regenerates it)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), schemaText());
});
