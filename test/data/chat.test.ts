// Chat data for generation: the JSONL reader's located errors, and the rendering of prompts,
// completions and conversations into token ids and label masks, checked against an independent
// implementation (Python's jinja2 with transformers' settings and the Rust tokenizers library,
// scripts/chat_reference.py, which wrote test/fixtures/text/chat-reference.json); truncation to
// max_length counted, and the seeded split.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatRenderer } from '../../src/data/chat-render.ts';
import { loadChatDataset, splitChatDataset } from '../../src/data/chat-dataset.ts';
import { chatRecord, parseChatJsonl } from '../../src/data/readers/chat.ts';
import { DataError } from '../../src/data/errors.ts';
import { TextTokenizer } from '../../src/data/tokenize.ts';
import { checkStructure } from '../../src/spec/structure.ts';
import { asGeneration } from '../../src/spec/derived.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama');
const tokenizerJson = readFileSync(join(TINY, 'tokenizer.json'), 'utf8');
const config: Record<string, unknown> = JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
const tokenizer = new TextTokenizer(tokenizerJson, config);

interface Case {
  template: 'folder' | 'smollm2-style' | 'none';
  record: unknown;
  ids: number[];
  labels: number[];
}
const reference: { smollm2_style_template: string; cases: Case[] } = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'text', 'chat-reference.json'), 'utf8'));

const dir = tempDir('tunespec-chat-');
after(() => rmSync(dir, { recursive: true, force: true }));

function rendererFor(template: Case['template']): ChatRenderer {
  const { chat_template: _t, ...plain } = config;
  const c = template === 'folder' ? config : template === 'none' ? plain : { ...config, chat_template: reference.smollm2_style_template };
  return new ChatRenderer(tokenizer, c, 2);
}

test('prompt/completion pairs and conversations render to the token ids and label masks of jinja2 + Rust tokenizers', () => {
  assert.ok(reference.cases.length >= 10);
  for (const c of reference.cases) {
    const got = rendererFor(c.template).example(chatRecord(c.record, 'ref.jsonl', 1), 'ref.jsonl');
    const what = `${c.template} ${JSON.stringify(c.record).slice(0, 60)}`;
    assert.deepEqual(got.ids, c.ids, what);
    assert.deepEqual(got.labels, c.labels, what);
  }
});

test('the learned tokens are the completion (assistant turns) through the end-of-turn token, never the prompt or the template\'s newline after it', () => {
  const r = rendererFor('folder');
  const { ids, labels } = r.example(chatRecord({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo' }, { role: 'user', content: 'Bye' }, { role: 'assistant', content: 'Ok' }] }, 'x', 1), 'x');
  const learned = ids.filter((_, i) => labels[i] === 1);
  assert.equal(tokenizer.decode(learned), 'YoOk');
  const eos = tokenizer.tokenId('<|im_end|>')!;
  assert.equal(learned.filter((id) => id === eos).length, 2, 'each assistant turn ends in <|im_end|>, learned');
  assert.equal(labels.at(-1), 0, 'the newline after the last <|im_end|> is not learned');
  // Without a template: prompt + completion + eos, the eos learned.
  const plain = rendererFor('none').example(chatRecord({ prompt: 'Q:', completion: ' A' }, 'x', 1), 'x');
  assert.equal(plain.ids.at(-1), 2);
  assert.equal(plain.labels.at(-1), 1);
  assert.equal(plain.labels[0], 0);
  // An eval prompt goes through the template the way training prompts did.
  assert.equal(tokenizer.decode(r.promptIds('Hello')), 'user\nHello\nassistant\n');
});

test('a bad line is refused with its file:line and what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['{"prompt": "a", "completion": "b"}\nnot json', /^d\.jsonl:2: not JSON/],
    ['{"text": "a"}', /^d\.jsonl:1: expected \{"prompt", "completion"\} or \{"messages": \[\.\.\.\]\}; this line has "text"/],
    ['{"prompt": "a"}', /^d\.jsonl:1: has "prompt" but no "completion"/],
    ['{"prompt": "a", "completion": 3}', /^d\.jsonl:1: "completion": expected a string, found 3/],
    ['{"prompt": "a", "completion": ""}', /"completion": empty/],
    ['{"messages": [{"role": "robot", "content": "x"}]}', /^d\.jsonl:1: messages\[0\]\.role: must be one of system, user, assistant; found "robot"/],
    ['{"messages": [{"role": "user", "content": "x"}]}', /no assistant message/],
    ['{"messages": []}', /"messages": expected a non-empty list/],
    ['{"messages": [{"role": "user"}]}', /messages\[0\]\.content: expected a string/],
    ['[1, 2]', /expected a JSON object per line, found an array/],
    ['\n\n', /^d\.jsonl: no examples/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseChatJsonl(text, 'd.jsonl'), (e: unknown) => e instanceof DataError && re.test(e.message), text);
  }
  assert.throws(() => rendererFor('none').example(chatRecord({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }, 'd.jsonl', 4), 'd.jsonl'), /d\.jsonl:4: "messages" need a chat template/);
});

function generationSpec(path: string, maxLength: number) {
  const checked = checkStructure({
    name: 'g',
    task: 'generation',
    base_model: { source: TINY },
    data: { format: 'chat', path, max_length: maxLength },
    validation: { fraction: 0.25, seed: 4, stratified: true },
    training: { epochs: 1, learning_rate: 0.01 },
  });
  assert.ok(checked.spec, JSON.stringify(checked.issues));
  return asGeneration(checked.spec);
}

test('examples longer than max_length are cut at the end and counted; one left without a learned token is dropped, and counted', async () => {
  const file = join(dir, 'long.jsonl');
  const lines = [
    ...Array.from({ length: 6 }, (_, i) => ({ prompt: `Q${i}:`, completion: ' yes' })),
    { prompt: 'Q:', completion: ' a long answer that goes on and on and on' },
    { prompt: 'x'.repeat(200), completion: ' lost' },
  ];
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const renderer = rendererFor('none');
  const spec = generationSpec(file, 16);
  const data = await loadChatDataset(spec, dir, renderer, tokenizer.digest);
  assert.equal(data.truncated, 2);
  assert.equal(data.dropped, 1);
  assert.equal(data.examples.length, 7);
  assert.ok(data.examples.every((e) => e.ids.length <= 16 && e.ids.length === e.labelMask.length));
  assert.equal(data.examples[6].ids.length, 16);
  assert.deepEqual(data.lines, [1, 2, 3, 4, 5, 6, 7]);
  // The same seed gives the same split (stratified is meaningless here and ignored); another seed another.
  const a = splitChatDataset(data, spec.validation);
  const b = splitChatDataset(data, spec.validation);
  assert.deepEqual(a, b);
  assert.equal(a.validation.length, 2);
  assert.equal(a.train.length, 5);
  const c = splitChatDataset(data, { ...spec.validation, seed: 5 });
  assert.notEqual(c.digest, a.digest);
});
