// `tunespec inspect <Hugging Face folder>` run as a user would: each layer under its HF name with
// its modules (attention, intermediate, output, layer norms) and parameter counts, as text and
// JSON; a folder whose config.json is wrong fails cleanly, naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert');

test('inspect lists embeddings, every block with its modules, and the pooler, with parameter counts', () => {
  const r = tunespec(['inspect', 'test/fixtures/text/tiny-bert']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], `Model ${TINY} (Hugging Face folder, model_type bert; 4 layers):`);
  const row = (name: string) => lines.find((l) => l.split(/\s{2,}/).map((c) => c.trim()).includes(name));
  assert.match(row('embeddings')!, /^0\s+embeddings\s+TunespecBertEmbeddings\s+\[null,null,32\]\s+10944$/);
  assert.match(row('encoder.layer.1')!, /^2\s+encoder\.layer\.1\s+TunespecBertLayer\s+\[null,null,32\]\s+8544$/);
  assert.match(row('encoder.layer.1.attention.self.query')!, /weight \[32, 32\], bias \[32\]\s+1056$/);
  assert.match(row('encoder.layer.0.intermediate.dense')!, /weight \[64, 32\], bias \[64\]\s+2112$/);
  assert.match(row('encoder.layer.0.output.LayerNorm')!, /weight \[32\], bias \[32\]\s+64$/);
  assert.match(row('pooler')!, /^3\s+pooler\s+TunespecBertPooler\s+\[null,32\]\s+1056$/);
  assert.ok(lines.includes('params: 29088 total, 29088 trainable, 0 non-trainable'));
  assert.ok(lines.includes('input: attention_mask [null,null] int32'));

  const j = tunespec(['inspect', 'test/fixtures/text/tiny-bert', '--json']);
  assert.equal(j.code, 0, j.stderr);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.kind, 'hf-folder');
  assert.deepEqual(parsed.layers.map((l: { name: string }) => l.name), ['embeddings', 'encoder.layer.0', 'encoder.layer.1', 'pooler']);
  assert.deepEqual(
    parsed.layers[1].modules.map((m: { name: string }) => m.name.replace('encoder.layer.0.', '')),
    ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'attention.output.LayerNorm', 'intermediate.dense', 'output.dense', 'output.LayerNorm'],
  );
  assert.equal(parsed.params.total, 29088);
});

test('a folder whose config.json the family refuses fails cleanly, naming the file', async () => {
  const dir = tempDir();
  for (const f of ['tokenizer.json', 'model.safetensors']) await copyFile(join(TINY, f), join(dir, f));
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: 32 }));
  const r = tunespec(['inspect', dir]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`${join(dir, 'config.json')}: vocab_size must be an integer >= 1; got undefined; num_hidden_layers must be`));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
