import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadTokenizer, tokenizeTexts, TextTokenizer } from '../../src/data/tokenize.ts';
import { truncateLongestFirst } from '../../src/data/truncate.ts';
import { tempDir, write } from './fixtures.ts';

const MINILM = join(import.meta.dirname, '..', 'fixtures', 'text', 'minilm');

interface ParityCase {
  text: string;
  text_pair?: string;
  max_length: number;
  ids: number[];
  attention_mask: number[];
  token_type_ids: number[];
}

test('MiniLM ids, attention masks and token type ids equal the Rust tokenizers ones on every parity case', async () => {
  const fixture = JSON.parse(await readFile(join(MINILM, 'parity.json'), 'utf8')) as { tokenizer_sha256: string; cases: ParityCase[] };
  const tokenizer = await loadTokenizer(MINILM);
  assert.equal(tokenizer.digest, fixture.tokenizer_sha256, 'parity.json was written from this tokenizer.json');
  assert.ok(fixture.cases.length >= 100);
  assert.ok(fixture.cases.some((c) => c.text_pair !== undefined && c.token_type_ids.includes(1)));
  assert.ok(fixture.cases.some((c) => c.attention_mask.every((m) => m === 1)), 'some cases are truncated');
  const mismatches = fixture.cases.flatMap((c, i) => {
    const got = tokenizer.encode(c.text, c.text_pair, c.max_length);
    const want = { ids: c.ids, attentionMask: c.attention_mask, tokenTypeIds: c.token_type_ids };
    try {
      assert.deepEqual(got, want);
      return [];
    } catch {
      return [`case ${i} (${JSON.stringify(c.text).slice(0, 40)}, max_length ${c.max_length}): got ${JSON.stringify(got.ids)}, want ${JSON.stringify(c.ids)}`];
    }
  });
  assert.deepEqual(mismatches, []);
});

test('tokenizeTexts lays rows out [N, max_length] with pairs, and the tokenizer knows its config', async () => {
  const tokenizer = await loadTokenizer(MINILM);
  const batch = tokenizeTexts(tokenizer, ['good film', 'bad'], ['yes', 'no at all'], 8);
  // [CLS] good film [SEP] yes [SEP] [PAD] [PAD] / [CLS] bad [SEP] no at all [SEP] [PAD]
  assert.deepEqual(Array.from(batch.inputIds), [101, 2204, 2143, 102, 2748, 102, 0, 0, 101, 2919, 102, 2053, 2012, 2035, 102, 0]);
  assert.deepEqual(Array.from(batch.attentionMask), [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(batch.tokenTypeIds), [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]);
  assert.equal(tokenizer.modelMaxLength, 512);
  assert.equal(tokenizer.length('good film'), 4);
  assert.equal(tokenizer.length('good film', 'yes'), 6);
  assert.equal(tokenizer.decode(Array.from(batch.inputIds.subarray(0, 8))), 'good film yes');
  assert.throws(() => tokenizeTexts(tokenizer, ['a', 'b'], ['c'], 8), /2 texts but 1 text pairs/);
});

test('max_length too small for the special tokens is refused, naming the tokenizer file', async () => {
  const tokenizer = await loadTokenizer(MINILM);
  assert.throws(() => tokenizer.encode('hi', 'there', 2), { code: 'MODEL', message: /max_length 2 leaves no room for the 3 special tokens of .*tokenizer\.json/ });
  assert.deepEqual(tokenizer.encode('hi there', undefined, 2).ids, [101, 102]);
});

test('loadTokenizer: missing or broken files are clear errors; tokenizer_config.json is optional', async () => {
  const dir = await tempDir();
  await assert.rejects(loadTokenizer(dir), { code: 'MODEL', message: `cannot read ${join(dir, 'tokenizer.json')}: not found` });
  await write(join(dir, 'tokenizer.json'), '{"model": ');
  await assert.rejects(loadTokenizer(dir), { code: 'MODEL', message: /tokenizer\.json: not a Hugging Face tokenizer\.json: .*JSON/ });
  await write(join(dir, 'tokenizer.json'), await readFile(join(MINILM, 'tokenizer.json')));
  // Without tokenizer_config.json the padding section of tokenizer.json still names [PAD].
  const bare = await loadTokenizer(dir);
  assert.equal(bare.modelMaxLength, undefined);
  assert.deepEqual(bare.encode('hi', undefined, 5).ids, [101, 7632, 102, 0, 0]);
  await write(join(dir, 'tokenizer_config.json'), '{oops');
  await assert.rejects(loadTokenizer(dir), { code: 'MODEL', message: /tokenizer_config\.json: invalid JSON/ });
});

test('a tokenizer that names no padding token refuses to pad rather than inventing an id', async () => {
  const json = JSON.parse(await readFile(join(MINILM, 'tokenizer.json'), 'utf8'));
  json.padding = null;
  const tokenizer = new TextTokenizer(JSON.stringify(json), {}, 'nopad/tokenizer.json');
  assert.deepEqual(tokenizer.encode('hi', undefined, 3).ids, [101, 7632, 102]);
  assert.throws(() => tokenizer.encode('hi', undefined, 4), /nopad\/tokenizer\.json names no padding token/);
});

test('longest-first truncation: whole texts when they fit, else the longer one gives way, else half each', () => {
  const seq = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
  const lengths = (a: number, b: number, budget: number) => {
    const [x, y] = truncateLongestFirst(seq(a, 'a'), seq(b, 'b'), budget);
    return [x.length, y!.length];
  };
  assert.deepEqual(lengths(3, 4, 10), [3, 4]);
  assert.deepEqual(lengths(3, 20, 10), [3, 7]);
  assert.deepEqual(lengths(20, 3, 10), [7, 3]);
  assert.deepEqual(lengths(6, 20, 10), [5, 5]);
  assert.deepEqual(lengths(20, 6, 9), [5, 4]);
  assert.deepEqual(lengths(12, 30, 9), [4, 5]);
  assert.deepEqual(truncateLongestFirst(seq(5, 'a'), undefined, 3), [['a0', 'a1', 'a2'], undefined]);
  assert.deepEqual(truncateLongestFirst(seq(4, 'a'), seq(4, 'b'), 3)[0], ['a0']);
});
