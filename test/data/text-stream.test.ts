// Streaming text from byte-level BPE tokens (the tiny Llama's tokenizer, a real one): deltas never
// split a character, put together they are the final text, and stop strings (split over tokens,
// or only begun) end the text before them without a byte of them going out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { TextStream } from '../../src/data/text-stream.ts';
import { ChatRenderer } from '../../src/data/chat-render.ts';
import { TextTokenizer } from '../../src/data/tokenize.ts';
import { ROOT } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama');
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8')), {});
const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });
const TEXT = 'héllo € 😀 world, ça va?';
const ids: number[] = tokenizer.encode(TEXT).ids;

function streamed(stop: string[], tokens = ids): { deltas: string[]; stream: TextStream } {
  const stream = new TextStream(decode, stop);
  const deltas: string[] = [];
  for (const id of tokens) {
    const d = stream.push(id);
    if (d) deltas.push(d);
    if (stream.stopped) break;
  }
  const rest = stream.flush();
  if (rest) deltas.push(rest);
  return { deltas, stream };
}

test('deltas never hold a split character and add up to the text', () => {
  assert.ok(ids.length > TEXT.length / 2, 'the multi-byte characters span several tokens');
  // Some prefixes of the tokens do decode to a replacement character: the case this is for.
  assert.ok(ids.some((_, i) => decode(ids.slice(0, i + 1)).endsWith('\ufffd')));
  const { deltas, stream } = streamed([]);
  assert.ok(deltas.every((d) => !d.includes('\ufffd')), JSON.stringify(deltas));
  assert.equal(deltas.join(''), TEXT);
  assert.equal(stream.value, TEXT);
  assert.equal(stream.tokens, ids.length);
});

test('a stop string ends the text before it, even split over tokens; a begun one is held back, then let go', () => {
  for (const stop of ['😀 w', '€', 'ld,', 'va?']) {
    const { deltas, stream } = streamed(['never', stop]);
    assert.equal(deltas.join(''), TEXT.slice(0, TEXT.indexOf(stop)), stop);
    assert.ok(stream.stopped);
  }
  // "world, x" begins like the text but parts from it: everything comes out, nothing is stopped.
  const { deltas, stream } = streamed(['world, x']);
  assert.equal(deltas.join(''), TEXT);
  assert.equal(stream.stopped, false);
  // While "wor" could still become the stop string, it is not handed out.
  const partial = new TextStream(decode, ['world, x']);
  const upTo = ids.findIndex((_, i) => decode(ids.slice(0, i + 1)).endsWith('wor'));
  const out = ids.slice(0, upTo + 1).map((id) => partial.push(id)).join('');
  assert.ok(!out.includes('wor') && TEXT.startsWith(out), out);
});

test("chat messages render with the tokenizer's own template, tokenized as a training example's prompt is; a model without one is refused", () => {
  const config = JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
  const text = new TextTokenizer(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'), config);
  const renderer = new ChatRenderer(text, config, 2);
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hi' },
  ];
  assert.deepEqual(renderer.chatIds(messages), text.encodeText('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'));
  // Serving a prompt as one user message gives the very ids training put before its completion.
  const example = renderer.example({ kind: 'prompt', prompt: 'hi', completion: ' there', line: 1 }, 'x.jsonl');
  const prompt = renderer.chatIds([{ role: 'user', content: 'hi' }]);
  assert.deepEqual(example.ids.slice(0, prompt.length), prompt);
  assert.ok(example.labels.slice(0, prompt.length).every((l) => l === 0) && example.labels[prompt.length] === 1);
  assert.deepEqual(renderer.promptIds('hi'), prompt);
  const { chat_template: _, ...plain } = config;
  assert.throws(() => new ChatRenderer(text, plain, 2).chatIds(messages), { message: "the model's tokenizer_config.json has no chat_template: send a plain prompt instead of chat messages" });
  const strict = { ...config, chat_template: "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be the user') }}{% endif %}x" };
  assert.throws(() => new ChatRenderer(text, strict, 2).chatIds(messages), { message: /first message must be the user/ });
});
