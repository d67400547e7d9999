// `tunespec inspect` on Llama decoders run as a user would: a Hugging Face folder and a GGUF file
// list the embeddings, every decoder block with its attention and MLP projections in the
// checkpoint's [out, in] layout, the final norm and the LM head, with parameter counts; a GGUF
// that is not one fails cleanly, naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, tempDir, tunespec } from '../helpers/cli.ts';

const SMOLLM2 = join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const row = (lines: string[], name: string) => lines.find((l) => l.split(/\s{2,}/).map((c) => c.trim()).includes(name));

for (const target of ['test/fixtures/text/tiny-llama', 'test/fixtures/text/tiny-llama.gguf']) {
  test(`inspect ${target} lists the blocks and their projections under Hugging Face names`, () => {
    const r = tunespec(['inspect', target]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const format = target.endsWith('.gguf') ? 'GGUF' : 'Hugging Face folder';
    assert.match(lines[0], new RegExp(`^Model .*tiny-llama(\\.gguf)? \\(${format}, model_type llama; 5 layers\\):$`));
    assert.match(row(lines, 'model.embed_tokens')!, /^0\s+model\.embed_tokens\s+TunespecLlamaEmbedding\s+\[null,null,32\]\s+10240$/);
    assert.match(row(lines, 'model.layers.1')!, /^2\s+model\.layers\.1\s+TunespecLlamaDecoderLayer\s+\[null,null,32\]\s+9280$/);
    assert.match(row(lines, 'model.layers.0.self_attn.k_proj')!, /weight \[16, 32\]\s+512$/);
    assert.match(row(lines, 'model.layers.1.mlp.down_proj')!, /weight \[32, 64\]\s+2048$/);
    assert.match(row(lines, 'lm_head')!, /^4\s+lm_head\s+TunespecLlamaLmHead\s+\[null,null,320\]\s+10240$/);
    assert.ok(lines.includes('params: 39072 total, 39072 trainable, 0 non-trainable'));
    assert.ok(lines.includes('output: [null,null,320]'));

    const j = JSON.parse(tunespec(['inspect', target, '--json']).stdout);
    assert.equal(j.kind, target.endsWith('.gguf') ? 'gguf' : 'hf-folder');
    assert.deepEqual(j.layers.map((l: { name: string }) => l.name), ['model.embed_tokens', 'model.layers.0', 'model.layers.1', 'model.norm', 'lm_head']);
    assert.equal(j.config.numKvHeads, 2);
  });
}

test('inspect of a file named .gguf that is not GGUF fails cleanly, naming it', async () => {
  const file = join(tempDir(), 'model.gguf');
  await writeFile(file, '{"not": "gguf"}');
  const r = tunespec(['inspect', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.stderr.trim(), `${file} is not a valid GGUF file: it does not start with the magic "GGUF"`);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('inspect SmolLM2-135M-Instruct (GGUF): 30 blocks, 134,515,008 parameters, tied head', { skip: !existsSync(SMOLLM2) && `${SMOLLM2} is absent: run \`npm run models:gpt\`` }, () => {
  const r = tunespec(['inspect', SMOLLM2]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /\(GGUF, model_type llama; 33 layers\):$/);
  assert.match(row(lines, 'model.layers.29')!, /^30\s+model\.layers\.29\s+TunespecLlamaDecoderLayer\s+\[null,null,576\]\s+3540096$/);
  assert.match(row(lines, 'model.layers.0.self_attn.k_proj')!, /weight \[192, 576\]\s+110592$/);
  assert.match(row(lines, 'lm_head')!, /^32\s+lm_head\s+TunespecLlamaLmHead\s+\[null,null,49152\]\s+0$/);
  assert.ok(lines.includes('params: 134515008 total, 134515008 trainable, 0 non-trainable'));
  assert.ok(lines.includes('lm_head is tied to model.embed_tokens (it has no weights of its own)'));
});
