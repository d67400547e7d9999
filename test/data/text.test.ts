import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadTextDataset } from '../../src/data/text-dataset.ts';
import { readTextRows } from '../../src/data/readers/text.ts';
import { splitDataset } from '../../src/data/split.ts';
import { loadTokenizer, tokenizeTexts } from '../../src/data/tokenize.ts';
import type { TextDataSpec } from '../../src/spec/types.ts';
import { tempDir, write } from './fixtures.ts';

const MINILM = join(import.meta.dirname, '..', 'fixtures', 'text', 'minilm');
const COLUMNS = { text: 'text', label: 'label' };

function spec(path: string, extra: Partial<TextDataSpec> = {}): TextDataSpec {
  return { format: 'text', path, text_column: 'text', label_column: 'label', max_length: 16, ...extra };
}

test('CSV, TSV and JSONL give the same rows: quoted commas, tabs and line breaks, CRLF, BOM, integer labels', async () => {
  const dir = await tempDir();
  const csv = await write(join(dir, 'r.csv'), '\ufeffid,text,label\r\n1,"Great, really great",1\r\n2,"two\r\nlines ""quoted""",0\r\n');
  const tsv = await write(join(dir, 'r.tsv'), 'id\ttext\tlabel\n1\tGreat, really great\t1\n2\t"two\r\nlines ""quoted"""\t0\n');
  const jsonl = await write(join(dir, 'r.jsonl'), '{"text": "Great, really great", "label": 1}\n\n{"text": "two\\r\\nlines \\"quoted\\"", "label": 0, "extra": [1]}\n');
  const want = { texts: ['Great, really great', 'two\r\nlines "quoted"'], pairs: undefined, labels: [1, 0] };
  for (const file of [csv, tsv, jsonl]) {
    const rows = await readTextRows(file, COLUMNS);
    assert.deepEqual({ texts: rows.texts, pairs: rows.pairs, labels: rows.labels }, want, file);
  }
  assert.deepEqual((await readTextRows(csv, COLUMNS)).lines, [2, 3]);
  assert.deepEqual((await readTextRows(jsonl, COLUMNS)).lines, [1, 3]);
});

test('text pairs and string labels; a pair column is read only when asked for', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'nli.jsonl'), '{"premise": "A cat sleeps.", "hypothesis": "An animal rests.", "label": "entailment"}\n{"premise": "A cat sleeps.", "hypothesis": "A dog barks.", "label": "neutral"}\n');
  const rows = await readTextRows(file, { text: 'premise', pair: 'hypothesis', label: 'label' });
  assert.deepEqual(rows.pairs, ['An animal rests.', 'A dog barks.']);
  assert.deepEqual(rows.labels, ['entailment', 'neutral']);
});

test('every bad input is refused with its file and line', async () => {
  const dir = await tempDir();
  const cases: [string, string, RegExp | string][] = [
    ['a.csv', 'text,label\n"fine",1\n"  ",0\n', 'a.csv:3: column "text": empty text'],
    ['b.csv', 'text,label\nfine,1\nalso fine,\n', 'b.csv:3: column "label": empty label'],
    ['c.csv', 'review,label\nfine,1\n', 'c.csv: text column "text" not found; available columns: "review", "label"'],
    ['d.csv', 'text,label\nfine,1\ntoo,many,fields\n', 'd.csv:3: expected 2 fields as in the header, found 3'],
    ['e.csv', 'text,label\n"unterminated,1\n', 'e.csv:2: unterminated quoted field'],
    ['f.jsonl', '{"text": "ok", "label": 1}\n{"text": "oops", "label": 1\n', /^.*f\.jsonl:2: not a JSON object: /],
    ['g.jsonl', '{"text": "ok", "label": 1}\n["text", 1]\n', 'g.jsonl:2: expected a JSON object per line, found an array'],
    ['h.jsonl', '{"text": "ok", "label": 1}\n{"body": "x", "label": 0}\n', 'h.jsonl:2: no text field "text"; this line has "body", "label"'],
    ['i.jsonl', '{"text": 5, "label": 1}\n', 'i.jsonl:1: "text": expected a string, found 5'],
    ['j.jsonl', '{"text": "ok", "label": 0.5}\n', 'j.jsonl:1: "label": expected a string, an integer or a boolean label, found 0.5'],
    ['k.jsonl', '\n\n', 'k.jsonl: no examples: the file has no JSON lines'],
    ['l.txt', 'text,label\n', 'l.txt: text data must be a .csv, .tsv or .jsonl file (by extension); got ".txt"'],
    ['m.tsv', 'text\tlabel\n"x" y\t1\n', 'm.tsv:2: unexpected character " " after a closing quote'],
  ];
  for (const [name, content, message] of cases) {
    const file = await write(join(dir, name), content);
    const want = typeof message === 'string' ? join(dir, message) : message;
    await assert.rejects(readTextRows(file, COLUMNS), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'DATA');
      if (typeof want === 'string') assert.equal(err.message, want);
      else assert.match(err.message, want);
      return true;
    }, name);
  }
  const nli = await write(join(dir, 'n.csv'), 'text,label\nx,1\n');
  await assert.rejects(readTextRows(nli, { text: 'label', label: 'label' }), /column "label" is the label column and cannot also be the text column/);
  await assert.rejects(readTextRows(nli, { text: 'text', pair: 'text', label: 'label' }), /column "text" cannot be both the text and the text pair column/);
  await assert.rejects(readTextRows(join(dir, 'absent.csv'), COLUMNS), { message: `${join(dir, 'absent.csv')}: cannot read file: not found` });
});

test('loadTextDataset: class subset, names, limit per class, digest; the seeded stratified split applies as for other data', async () => {
  const dir = await tempDir();
  const rows = ['text,label'];
  for (let i = 0; i < 30; i++) rows.push(`review number ${i},${['pos', 'neg', 'meh'][i % 3]}`);
  await write(join(dir, 'reviews.csv'), rows.join('\n') + '\n');
  const ds = await loadTextDataset(spec('reviews.csv', { classes: ['pos', 'neg'], class_names: ['positive', 'negative'], limit_per_class: 6 }), dir);
  assert.deepEqual(ds.classNames, ['positive', 'negative']);
  assert.equal(ds.texts.length, 12);
  assert.deepEqual(ds.texts.slice(0, 3), ['review number 0', 'review number 1', 'review number 3']);
  assert.deepEqual(Array.from(ds.labels.slice(0, 3)), [0, 1, 0]);
  assert.deepEqual(Array.from(ds.lines.slice(0, 3)), [2, 3, 5]);
  const again = await loadTextDataset(spec(join(dir, 'reviews.csv'), { classes: ['pos', 'neg'], class_names: ['positive', 'negative'], limit_per_class: 6 }), '/elsewhere');
  assert.equal(again.digest, ds.digest, 'an absolute path reads the same data');
  const more = await loadTextDataset(spec('reviews.csv', { classes: ['pos', 'neg'], limit_per_class: 7 }), dir);
  assert.notEqual(more.digest, ds.digest);
  const split = splitDataset(ds.labels, { fraction: 0.5, stratified: true, seed: 3 }, ds.digest);
  assert.equal(split.validation.length, 6);
  assert.deepEqual([0, 1].map((k) => Array.from(split.validation).filter((i) => ds.labels[i] === k).length), [3, 3]);
  assert.equal(splitDataset(ds.labels, { fraction: 0.5, stratified: true, seed: 3 }, ds.digest).digest, split.digest);
  await assert.rejects(loadTextDataset(spec('reviews.csv', { classes: ['pos', 'great'] }), dir), /class "great" has no examples; labels present: "meh", "neg", "pos"/);
});

test('the digest covers texts, pairs and labels, and tells a text from a split pair', async () => {
  const dir = await tempDir();
  await write(join(dir, 'a.csv'), 'text,pair,label\n"a,b",c,0\nd,e,1\n');
  await write(join(dir, 'b.csv'), 'text,pair,label\na,"b,c",0\nd,e,1\n');
  await write(join(dir, 'c.csv'), 'text,pair,label\n"a,b",c,1\nd,e,0\n');
  const digest = async (file: string, pair?: string) => (await loadTextDataset(spec(file, { text_pair_column: pair }), dir)).digest;
  const digests = [await digest('a.csv', 'pair'), await digest('b.csv', 'pair'), await digest('c.csv', 'pair'), await digest('a.csv')];
  assert.equal(new Set(digests).size, 4);
});

test('held-out data read for a trained variant: an unknown label is an error at its line', async () => {
  const dir = await tempDir();
  await write(join(dir, 'test.tsv'), 'text\tlabel\ngood\tpos\nbad\tneg\nugly\tnegative\n');
  await assert.rejects(loadTextDataset(spec('test.tsv'), dir, { knownClasses: ['neg', 'pos'] }), {
    code: 'DATA',
    message: `${join(dir, 'test.tsv')}:4: unknown label "negative": the variant's classes are "neg", "pos"`,
  });
  await write(join(dir, 'ok.tsv'), 'text\tlabel\ngood\tpos\nbad\tneg\n');
  const ds = await loadTextDataset(spec('ok.tsv'), dir, { knownClasses: ['neg', 'pos'] });
  assert.deepEqual(Array.from(ds.labels), [1, 0], 'class indices follow the variant\'s classes, not the file');
});

test('the tokenize step turns a text dataset into fixed-length ids with the tokenizer it is given', async () => {
  const dir = await tempDir();
  await write(join(dir, 'p.jsonl'), '{"q": "Is it good?", "a": "Yes, very.", "label": 1}\n{"q": "Is it bad?", "a": "No.", "label": 0}\n');
  const ds = await loadTextDataset(spec('p.jsonl', { text_column: 'q', text_pair_column: 'a' }), dir);
  const batch = tokenizeTexts(await loadTokenizer(MINILM), ds.texts, ds.pairs, 12);
  assert.equal(batch.inputIds.length, 24);
  // [CLS] is it good ? [SEP] yes , very . [SEP] [PAD]
  assert.deepEqual(Array.from(batch.tokenTypeIds.subarray(0, 12)), [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0]);
  assert.deepEqual(Array.from(batch.attentionMask.subarray(12)), [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]);
});
