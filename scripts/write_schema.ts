// Writes schemas/experiment.schema.json from src/spec/schema.ts; test/spec/schema-file.test.ts
// fails when the published file drifts from the definition.
import { writeFileSync } from 'node:fs';
import { experimentSchema } from '../src/spec/schema.ts';

export const SCHEMA_FILE = new URL('../schemas/experiment.schema.json', import.meta.url);
export const schemaText = (): string => JSON.stringify(experimentSchema, null, 2) + '\n';

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
