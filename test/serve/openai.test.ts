// `tunespec serve` as a real child process, driven by the official `openai` npm client (a client
// nobody here wrote) and by raw fetch for what a client hides (SSE framing, status codes of bad
// routes and bodies). The run store holds fine-tuned variants laid out as training leaves them
// (the tiny Llama as each one's merged model), so greedy answers are the NumPy reference tokens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Tokenizer } from '@huggingface/tokenizers';
import { ROOT, tempDir, tunespecAsync } from '../helpers/cli.ts';
import { serveRuns as serve, type Served } from '../helpers/serve.ts';
import { layOutGenerationVariant, TINY_LLAMA } from '../helpers/generation-variant.ts';

const KEY = 'sk-test-4f9b2c7e1d';
const ref: { prompts: { text: string; input_ids: number[]; greedy: number[] }[] } = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama-reference.json'), 'utf8'));
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(TINY_LLAMA, 'tokenizer.json'), 'utf8')), {});
const decode = (ids: number[]) => tokenizer.decode(ids, { skip_special_tokens: true });

const runs = join(tempDir(), 'runs');
const A = layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's1', variant: 'aaaa11112222', metrics: { val_loss: 1.1 } });
const B = layOutGenerationVariant(runs, { experiment: 'gen', sweep: 's1', variant: 'bbbb11112222', metrics: { val_loss: 0.9 } });
let server: Served;
let client: OpenAI;

before(async () => {
  server = await serve(runs, [], { TUNESPEC_API_KEY: KEY });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 120_000 });
});
after(async () => {
  await server?.stop();
});

test('GET /v1/models lists every fine-tuned variant by name and its base model, in OpenAI list shape', async () => {
  const list = [];
  for await (const m of client.models.list()) list.push(m);
  assert.deepEqual(
    list.map((m) => [m.id, m.object, m.owned_by]).sort(),
    [
      [A, 'model', 'gen'],
      [B, 'model', 'gen'],
      ['tiny-llama', 'model', 'base'],
    ].sort(),
  );
  assert.ok(list.every((m) => Number.isInteger(m.created) && m.created > 1.7e9));
  assert.equal((await client.models.retrieve(A)).id, A);
  assert.match(server.stdout(), new RegExp(`^  ${A}$`, 'm'));
});

test('completions: greedy text is the NumPy reference, with usage and finish_reason, streamed or not', async () => {
  const p = ref.prompts[0];
  const want = decode(p.greedy);
  const r = await client.completions.create({ model: A, prompt: p.text, max_tokens: p.greedy.length, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.model, A);
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.choices[0].text, want);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.deepEqual(r.usage, { prompt_tokens: p.input_ids.length, completion_tokens: p.greedy.length, total_tokens: p.input_ids.length + p.greedy.length });

  const stream = await client.completions.create({ model: A, prompt: p.text, max_tokens: p.greedy.length, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '';
  const finishes: (string | null)[] = [];
  let usage;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      finishes.push(c.finish_reason);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, want);
  assert.equal(finishes.at(-1), 'length');
  assert.ok(finishes.slice(0, -1).every((f) => f === null));
  assert.deepEqual(usage, r.usage);
});

test('completions: a stop string ends the text before it; a seed repeats a sampled text', async () => {
  const p = ref.prompts[1];
  const full = decode(p.greedy);
  const at = [...Array(full.length - 2).keys()].find((i) => i > 1 && !full.slice(i, i + 2).includes('\ufffd'))!;
  const stop = full.slice(at, at + 2);
  const r = await client.completions.create({ model: B, prompt: p.text, max_tokens: p.greedy.length, temperature: 0, stop: ['zzzz', stop] });
  assert.equal(r.choices[0].text, full.slice(0, full.indexOf(stop)));
  assert.equal(r.choices[0].finish_reason, 'stop');

  const sampled = () => client.completions.create({ model: B, prompt: 'The cat', max_tokens: 20, temperature: 1, top_p: 0.9, seed: 11 });
  const [one, two] = [await sampled(), await sampled()];
  assert.equal(one.choices[0].text, two.choices[0].text);
  assert.equal(one.usage?.completion_tokens, 20);
});

test("chat completions: the chat template's prompt, greedy, as `tunespec generate --chat` answers; streamed or not", async () => {
  const messages = [{ role: 'user' as const, content: 'hi' }];
  const r = await client.chat.completions.create({ model: A, messages, max_tokens: 12, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  const answer = r.choices[0].message;
  assert.equal(answer.role, 'assistant');
  // Asynchronously: a blocked event loop would miss the server closing the client's idle keep-alive socket.
  const cli = await tunespecAsync(['generate', A, 'hi', '--chat', '--max-tokens', '12', '--runs-dir', runs]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(answer.content, cli.stdout.replace(/\n$/, ''));
  const promptTokens = Number(/the (\d+)-token prompt/.exec(cli.stderr)?.[1]);
  assert.equal(r.usage?.prompt_tokens, promptTokens);
  assert.equal(r.usage?.total_tokens, promptTokens + r.usage!.completion_tokens);

  const stream = await client.chat.completions.create({ model: A, messages, max_tokens: 12, temperature: 0, stream: true });
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id));
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), answer.content);
  assert.equal(chunks.at(-1)!.choices[0].finish_reason, r.choices[0].finish_reason);
});

test('errors come back OpenAI-shaped: unknown model 404, missing or wrong key 401, bad fields 400; the key is never logged', async () => {
  await assert.rejects(client.completions.create({ model: 'ft:tiny-llama:gen:ffff00001111', prompt: 'hi' }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.equal(err.param, 'model');
    return true;
  });
  const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong-0000', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key');
  const missing = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { Authorization: null } });
  await assert.rejects(missing.chat.completions.create({ model: A, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.status === 401);
  for (const [body, param] of [
    [{ model: A, prompt: 'hi', temperature: 5 }, 'temperature'],
    [{ model: A, prompt: 'hi', n: 2 }, 'n'],
    [{ model: A, prompt: [1, 2, 3] }, 'prompt'],
    [{ model: A, prompt: 'hi', stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
  ] as const) {
    await assert.rejects(client.completions.create(body as never), (err: unknown) => err instanceof OpenAI.BadRequestError && err.param === param);
  }
  await assert.rejects(client.completions.create({ model: A, prompt: 'word '.repeat(200) }), (err: unknown) => err instanceof OpenAI.BadRequestError && err.code === 'context_length_exceeded');
  assert.doesNotMatch(server.stderr(), /sk-test|sk-wrong/);
  assert.match(server.stderr(), /^serve: GET \/v1\/models 401 invalid_api_key/m);
});

test('raw HTTP: SSE framing with data: [DONE]; unknown route 404, wrong method 405, bad JSON 400, oversized body 413', async () => {
  const auth = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };
  const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: auth, body: JSON.stringify({ model: A, prompt: ref.prompts[0].text, max_tokens: 4, temperature: 0, stream: true }) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const body = await res.text();
  assert.ok(body.endsWith('\n\n'));
  const events = body.slice(0, -2).split('\n\n');
  assert.equal(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((e) => {
    assert.match(e, /^data: \{.*\}$/);
    return JSON.parse(e.slice(6));
  });
  assert.equal(chunks.map((c) => c.choices[0].text).join(''), decode(ref.prompts[0].greedy.slice(0, 4)));

  const error = async (path: string, init: RequestInit, status: number, code: string | null) => {
    const r = await fetch(`${server.url}${path}`, init);
    assert.equal(r.status, status, path);
    const json = (await r.json()) as { error: { message: string; type: string; param: unknown; code: unknown } };
    assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(json.error.code, code);
    return r;
  };
  await error('/v1/embeddings', { method: 'POST', headers: auth, body: '{}' }, 404, 'unknown_url');
  const r405 = await error('/v1/completions', { method: 'GET', headers: auth }, 405, 'method_not_allowed');
  assert.equal(r405.headers.get('allow'), 'POST');
  await error('/v1/completions', { method: 'POST', headers: auth, body: '{"model": ' }, 400, null);
  await error('/v1/completions', { method: 'POST', headers: auth, body: JSON.stringify({ model: A, prompt: 'x'.repeat(2 * 1024 * 1024) }) }, 413, 'request_too_large');
  await error('/v1/models', { headers: {} }, 401, null);
});

test('the server answers other requests while a long generation streams; requests to one model run one at a time and agree', async () => {
  const q = ref.prompts[2];
  const long = await client.completions.create({ model: A, prompt: q.text, max_tokens: 110, temperature: 0, stream: true });
  const order: string[] = [];
  const streamed = (async () => {
    let n = 0;
    for await (const chunk of long) n += chunk.choices.length;
    order.push('stream ended');
    return n;
  })();
  const listed = (async () => {
    for await (const _ of client.models.list()) void _;
    order.push('models listed');
  })();
  await Promise.all([streamed, listed]);
  assert.deepEqual(order, ['models listed', 'stream ended']);

  const p = ref.prompts[0];
  const answers = await Promise.all([A, A, B].map((model) => client.completions.create({ model, prompt: p.text, max_tokens: p.greedy.length, temperature: 0 })));
  for (const a of answers) assert.equal(a.choices[0].text, decode(p.greedy));
});

test('loaded models stay within --max-models-memory, least recently used out; SIGINT and SIGTERM stop the server cleanly', async () => {
  const small = await serve(runs, ['--max-models-memory', '200K'], {});
  try {
    const c = new OpenAI({ baseURL: `${small.url}/v1`, apiKey: 'none', maxRetries: 0 });
    for (const model of [A, B, A]) await c.completions.create({ model, prompt: 'hi', max_tokens: 2, temperature: 0 });
    const log = small.stderr();
    assert.match(log, new RegExp(`^serve: loaded ${A} \\(~0 MiB, engine \\w+\\)$`, 'm'));
    assert.equal(log.match(/^serve: unloaded /gm)?.length, 2, log);
    assert.match(log, new RegExp(`^serve: unloaded ${A} \\(least recently used`, 'm'));
    assert.match(small.stdout(), /no key required/);
  } finally {
    assert.equal(await small.stop('SIGINT'), 0);
  }
  assert.match(small.stdout(), /serve: stopping\nserve: stopped\n$/);
  // SIGTERM during a streamed answer: the answer ends properly ([DONE]), then the server exits 0.
  const other = await serve(runs, [], {});
  const res = await fetch(`${other.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: A, prompt: ref.prompts[2].text, max_tokens: 110, temperature: 0, stream: true }) });
  const reader = res.body!.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  const exited = other.stop('SIGTERM');
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
  assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-200));
  assert.equal(await exited, 0);
  assert.match(other.stdout(), /serve: stopped\n$/);
});

test('POST /v1/classifications: a text classification variant trained while the server runs classifies texts as `tunespec predict` does', async () => {
  const dir = tempDir();
  const spec = join(dir, 'reviews.yaml');
  writeFileSync(
    spec,
    `name: reviews
base_model: { source: ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert'))}, cut: encoder.layer.1 }
head:
  - { type: pooling, mode: mean }
  - { type: dense, units: 2, activation: softmax }
freeze: [{ from: embeddings, to: encoder.layer.0 }]
data: { format: text, path: ${JSON.stringify(join(ROOT, 'test', 'fixtures', 'text', 'reviews-64.csv'))}, max_length: 16 }
validation: { fraction: 0.25, seed: 3 }
training: { epochs: 1, batch_size: 16, optimizer: adamw, learning_rate: 0.001, seed: 1 }
`,
  );
  const run = await tunespecAsync(['run', spec, '--runs-dir', runs]);
  assert.equal(run.code, 0, run.stderr);
  const id = /^best: ([0-9a-f]{12})/m.exec((await tunespecAsync(['runs', spec, '--runs-dir', runs])).stdout)?.[1];
  assert.ok(id, 'the trained variant id');
  const texts = ['a warm, funny and moving film', 'dull, long and badly acted'];
  const predicted = await tunespecAsync(['predict', id, ...texts, '--runs-dir', runs, '--json', '--top', '2']);
  assert.equal(predicted.code, 0, predicted.stderr);
  const want = JSON.parse(predicted.stdout).predictions as { top: { name: string; probability: number }[] }[];

  const post = (body: unknown) => fetch(`${server.url}/v1/classifications`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const res = await post({ model: id, input: texts });
  assert.equal(res.status, 200, res.status === 200 ? '' : await res.clone().text());
  const got = (await res.json()) as { object: string; model: string; data: { object: string; index: number; label: string; probabilities: Record<string, number> }[] };
  assert.equal(got.object, 'list');
  assert.equal(got.model, id);
  got.data.forEach((d, i) => {
    assert.deepEqual([d.object, d.index, d.label], ['classification', i, want[i].top[0].name]);
    for (const t of want[i].top) assert.ok(Math.abs(d.probabilities[t.name] - t.probability) < 1e-5, `${t.name}: ${d.probabilities[t.name]} vs ${t.probability}`);
  });
  const notFound = await post({ model: 'abcdefabcdef', input: 'x' });
  assert.equal(notFound.status, 404);
  assert.equal(((await notFound.json()) as { error: { code: string } }).error.code, 'model_not_found');
  const generation = await post({ model: 'aaaa11112222', input: 'x' });
  assert.equal(generation.status, 404);
  const bad = await post({ model: id, input: [] });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'input');
});
