// Resolving base_model.source to a Hugging Face model folder: local paths (relative to the spec,
// file://), http(s) base URLs and hf://org/name[@revision] against real loopback servers laid out
// like the Hub (resolve URLs, ETag/X-Linked-Etag, LFS files redirected to a second "CDN" origin
// with a signed query). The token reaches the Hub and never the CDN nor any message; a second
// resolve revalidates with If-None-Match instead of downloading; every wait is bounded.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { selectEngine } from '../../src/engine/backends.ts';
import { loadHfEncoder } from '../../src/model/hf/encoder.ts';
import { resolveHfFolder } from '../../src/model/hf/folder.ts';
import { encodeSafetensors } from '../../src/model/hf/safetensors-write.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert');
const TOKEN = 'hf_s3cr3tT0ken';
const SIGNATURE = 'X-Amz-Signature=sig4242';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Seen {
  server: 'hub' | 'cdn';
  url: string;
  auth?: string;
  ifNoneMatch?: string;
  status: number;
}

const servers: Server[] = [];
after(() => servers.forEach((s) => s.closeAllConnections?.(), servers.forEach((s) => s.close())));

async function listen(handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A sharded copy of the tiny BERT: two safetensors shards and their index. */
async function shardedRepo(): Promise<string> {
  const dir = tempDir();
  for (const f of ['config.json', 'tokenizer.json']) await copyFile(join(TINY, f), join(dir, f));
  const weights = await readHfWeights(TINY);
  const names = weights.names();
  const half = Math.ceil(names.length / 2);
  const map: Record<string, string> = {};
  for (const [i, part] of [names.slice(0, half), names.slice(half)].entries()) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    const tensors = part.map((name) => {
      const v = weights.values(name);
      map[name] = file;
      return { name, dtype: v.dtype === 'I64' ? ('I64' as const) : ('F32' as const), shape: v.shape, values: v.values };
    });
    await writeFile(join(dir, file), encodeSafetensors(tensors));
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
  return dir;
}

/** The Hub and its CDN on loopback. Repos: acme/tiny-bert, acme/sharded, acme/private (needs the token), acme/busy (answers 503 to the first request for each file), acme/slow (never answers), acme/stall (stops mid-body). */
async function fakeHub(): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const repos: Record<string, string> = { 'acme/tiny-bert': TINY, 'acme/sharded': await shardedRepo(), 'acme/private': TINY, 'acme/busy': TINY };
  const busy = new Set<string>();
  const blobs = new Map<string, Buffer>();
  const cdn = await listen((req, res) => {
    const body = blobs.get(new URL(req.url!, 'http://x').pathname.slice('/blob/'.length));
    const status = body && req.url!.includes(SIGNATURE) ? 200 : 403;
    seen.push({ server: 'cdn', url: req.url!, auth: req.headers.authorization, status });
    res.writeHead(status, { 'content-type': 'application/octet-stream', etag: '"cdn-etag"' }).end(status === 200 ? body : 'denied');
  });
  const endpoint = await listen(async (req, res) => {
    const m = /^\/(\w+\/[\w-]+)\/resolve\/([^/]+)\/([\w.-]+)$/.exec(req.url!);
    const record = (status: number) => seen.push({ server: 'hub', url: req.url!, auth: req.headers.authorization, ifNoneMatch: req.headers['if-none-match'], status });
    if (m?.[1] === 'acme/slow') return record(0); // never answers
    if (m?.[1] === 'acme/stall') {
      record(200);
      return res.writeHead(200, { 'content-length': 1000 }).write('{"model_ty'); // then nothing
    }
    if (m?.[1] === 'acme/busy' && !busy.has(req.url!)) {
      busy.add(req.url!);
      record(503);
      return res.writeHead(503, { 'retry-after': '0' }).end('overloaded');
    }
    if (m?.[1] === 'acme/private' && req.headers.authorization !== `Bearer ${TOKEN}`) {
      record(401);
      return res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('Access to model acme/private is restricted.');
    }
    const folder = m && repos[m[1]];
    const body = folder && m[2] === 'main' ? await readFile(join(folder, m[3])).catch(() => null) : null;
    if (!body) {
      record(404);
      return res.writeHead(404, { 'x-error-code': folder ? 'EntryNotFound' : 'RepoNotFound' }).end('Entry not found');
    }
    const etag = `"${sha(body)}"`;
    if (req.headers['if-none-match'] === etag) {
      record(304);
      return res.writeHead(304, { etag }).end();
    }
    if (m![3].endsWith('.safetensors')) {
      // LFS files: the Hub answers with their sha256 and sends the client to the CDN on a signed URL.
      blobs.set(sha(body), body);
      record(302);
      return res.writeHead(302, { location: `${cdn}/blob/${sha(body)}?${SIGNATURE}`, 'x-linked-etag': etag }).end();
    }
    record(200);
    res.writeHead(200, { etag, 'content-length': body.byteLength }).end(body);
  });
  return { endpoint, seen };
}

const hubPromise = fakeHub();

function env(endpoint: string, cache: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { HF_ENDPOINT: endpoint, HF_TOKEN: TOKEN, TUNESPEC_CACHE_DIR: cache, ...extra };
}

test('hf://org/name resolves like the Hub, sends the token only to the Hub, and revalidates from the cache', async () => {
  const { endpoint, seen } = await hubPromise;
  const cache = tempDir();
  seen.length = 0;
  const first = await resolveHfFolder('hf://acme/tiny-bert', ROOT, { env: env(endpoint, cache) });
  assert.ok(first.folder.startsWith(join(cache, 'hub', 'snapshots')));
  assert.equal(first.source, 'hf://acme/tiny-bert@main');
  const expected = ['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json'];
  assert.deepEqual((await readdir(first.folder)).sort(), expected);
  for (const f of expected) {
    const bytes = await readFile(join(TINY, f));
    assert.ok(bytes.equals(await readFile(join(first.folder, f))), f);
    assert.equal(first.files[f], sha(bytes), f);
  }
  assert.ok(seen.some((s) => s.url === '/acme/tiny-bert/resolve/main/config.json'));
  assert.ok(seen.filter((s) => s.server === 'hub').every((s) => s.auth === `Bearer ${TOKEN}`), 'every Hub request carries the token');
  const cdn = seen.filter((s) => s.server === 'cdn');
  assert.equal(cdn.length, 1);
  assert.equal(cdn[0].auth, undefined, 'the token never travels to the CDN');

  seen.length = 0;
  const second = await resolveHfFolder('hf://acme/tiny-bert@main', ROOT, { env: env(endpoint, cache) });
  assert.equal(second.folder, first.folder);
  const hub = seen.filter((s) => s.server === 'hub' && s.status !== 404);
  assert.ok(hub.length === expected.length && hub.every((s) => s.status === 304 && s.ifNoneMatch), JSON.stringify(seen));
  assert.equal(seen.filter((s) => s.server === 'cdn').length, 0, 'nothing is downloaded again');

  // Offline, the cached copy is used without a request.
  seen.length = 0;
  const offline = await resolveHfFolder('hf://acme/tiny-bert', ROOT, { env: env(endpoint, cache, { HF_HUB_OFFLINE: '1' }) });
  assert.equal(offline.folder, first.folder);
  assert.equal(seen.length, 0);
  await assert.rejects(resolveHfFolder('hf://acme/other', ROOT, { env: env(endpoint, cache, { HF_HUB_OFFLINE: '1' }) }), {
    message: `hf://acme/other@main is not in the model cache (${join(cache, 'hub')}) and HF_HUB_OFFLINE is set`,
  });
});

test('a sharded repo resolves and its encoder loads', async () => {
  const { endpoint } = await hubPromise;
  const resolved = await resolveHfFolder('hf://acme/sharded', ROOT, { env: env(endpoint, tempDir()) });
  assert.deepEqual(Object.keys(resolved.files).sort(), ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'tokenizer.json']);
  const { tf } = await selectEngine('wasm', []);
  const { model } = await loadHfEncoder(tf, resolved.folder);
  assert.equal(model.layers.filter((l) => l.name.startsWith('encoder.layer.')).length, 2);
  model.dispose();
});

test('missing files, refused tokens and silent servers fail clearly, naming the file and never the token', async () => {
  const { endpoint, seen } = await hubPromise;
  const cache = tempDir();
  const noToken = (err: Error) => (assert.ok(!err.message.includes(TOKEN) && !err.message.includes('sig4242'), err.message), true);
  await assert.rejects(resolveHfFolder('hf://acme/nothing', ROOT, { env: env(endpoint, cache) }), (err: Error) => {
    assert.equal(err.message, `cannot fetch config.json of hf://acme/nothing@main (${endpoint}/acme/nothing/resolve/main/config.json): HTTP 404 Not Found`);
    return noToken(err);
  });
  await assert.rejects(resolveHfFolder('hf://acme/tiny-bert@v2', ROOT, { env: env(endpoint, cache) }), /cannot fetch config\.json of hf:\/\/acme\/tiny-bert@v2 .*HTTP 404/);
  await assert.rejects(resolveHfFolder('hf://acme/private', ROOT, { env: env(endpoint, cache, { HF_TOKEN: 'hf_wrongwrong' }) }), (err: Error) => {
    assert.match(err.message, /^cannot fetch config\.json of hf:\/\/acme\/private@main \(.*\): HTTP 401 Unauthorized \(the token was refused\)$/);
    return !err.message.includes('hf_wrongwrong');
  });
  await assert.rejects(resolveHfFolder('hf://acme/private', ROOT, { env: { HF_ENDPOINT: endpoint, TUNESPEC_CACHE_DIR: cache } }), /HTTP 401 Unauthorized \(a private or gated repository needs HF_TOKEN\)$/);
  assert.ok((await resolveHfFolder('hf://acme/private', ROOT, { env: env(endpoint, cache) })).files['config.json']);
  // TUNESPEC_HTTP_TIMEOUT bounds every wait and TUNESPEC_HTTP_RETRIES applies, as for any base model URL.
  const quick = { TUNESPEC_HTTP_TIMEOUT: '0.3', TUNESPEC_HTTP_RETRIES: '1' };
  seen.length = 0;
  await assert.rejects(resolveHfFolder('hf://acme/slow', ROOT, { env: env(endpoint, cache, quick) }), (err: Error) => {
    assert.equal(err.message, `cannot fetch config.json of hf://acme/slow@main (${endpoint}/acme/slow/resolve/main/config.json): no answer within 0.3 s (TUNESPEC_HTTP_TIMEOUT sets the limit) (2 attempts)`);
    return noToken(err);
  });
  assert.equal(seen.filter((s) => s.url.startsWith('/acme/slow/')).length, 2, 'retried once');
  await assert.rejects(resolveHfFolder('hf://acme/stall', ROOT, { env: env(endpoint, cache, { ...quick, TUNESPEC_HTTP_RETRIES: '0' }) }), {
    message: `cannot fetch config.json of hf://acme/stall@main (${endpoint}/acme/stall/resolve/main/config.json): the download stalled for 0.3 s after 10 B of 1000 B (TUNESPEC_HTTP_TIMEOUT sets the limit)`,
  });
  assert.deepEqual((await readdir(join(cache, 'hub', 'blobs'))).filter((f) => f.startsWith('.tmp-')), [], 'a failed download leaves no partial file');
  await assert.rejects(resolveHfFolder('hf://not a repo', ROOT, { env: env(endpoint, cache) }), { message: 'hf://not a repo is not a Hub reference: write hf://<org>/<name> or hf://<org>/<name>@<revision>' });
});

test('a briefly overloaded Hub is retried as TUNESPEC_HTTP_RETRIES says', async () => {
  const { endpoint, seen } = await hubPromise;
  await assert.rejects(resolveHfFolder('hf://acme/busy', ROOT, { env: env(endpoint, tempDir(), { TUNESPEC_HTTP_RETRIES: '0' }) }), {
    message: `cannot fetch config.json of hf://acme/busy@main (${endpoint}/acme/busy/resolve/main/config.json): HTTP 503 Service Unavailable`,
  });
  seen.length = 0;
  const resolved = await resolveHfFolder('hf://acme/busy', ROOT, { env: env(endpoint, tempDir()) });
  assert.equal(resolved.files['model.safetensors'], sha(await readFile(join(TINY, 'model.safetensors'))));
  const asked = (file: string) => seen.filter((s) => s.url === `/acme/busy/resolve/main/${file}`).map((s) => s.status);
  assert.deepEqual(asked('tokenizer.json'), [503, 200]);
  assert.deepEqual(asked('model.safetensors'), [503, 302]);
});

test('an http(s) base URL is fetched file by file without the Hub token; its query never shows in messages', async () => {
  const { endpoint, seen } = await hubPromise;
  seen.length = 0;
  const resolved = await resolveHfFolder(`${endpoint}/acme/tiny-bert/resolve/main`, ROOT, { env: env(endpoint, tempDir()) });
  assert.ok((await readFile(join(TINY, 'config.json'))).equals(await readFile(join(resolved.folder, 'config.json'))));
  assert.ok(seen.every((s) => s.auth === undefined), 'HF_TOKEN is for hf:// sources only');
  await assert.rejects(resolveHfFolder(`${endpoint}/acme/none/resolve/main/?sig=topsecret`, ROOT, { env: env(endpoint, tempDir()) }), (err: Error) => {
    assert.equal(err.message, `cannot fetch config.json of ${endpoint}/acme/none/resolve/main (${endpoint}/acme/none/resolve/main/config.json): HTTP 404 Not Found`);
    return true;
  });
});

test('local folders resolve relative to the spec, or from file:// URLs, and must hold the model files', async () => {
  const dir = tempDir();
  await mkdir(join(dir, 'models', 'tiny'), { recursive: true });
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) await copyFile(join(TINY, f), join(dir, 'models', 'tiny', f));
  const rel = await resolveHfFolder('models/tiny', dir, { env: {} });
  assert.equal(rel.folder, join(dir, 'models', 'tiny'));
  assert.equal(rel.files['model.safetensors'], sha(await readFile(join(TINY, 'model.safetensors'))));
  assert.equal((await resolveHfFolder(pathToFileURL(join(dir, 'models', 'tiny')).toString(), '/', { env: {} })).folder, join(dir, 'models', 'tiny'));
  await assert.rejects(resolveHfFolder('models/none', dir, { env: {} }), { message: `${join(dir, 'models', 'none')} is not a folder (a Hugging Face model folder holds config.json, model.safetensors, tokenizer.json)` });
  await mkdir(join(dir, 'half'));
  await copyFile(join(TINY, 'config.json'), join(dir, 'half', 'config.json'));
  await assert.rejects(resolveHfFolder('half', dir, { env: {} }), { message: `${join(dir, 'half')} is not a Hugging Face model folder: it has no tokenizer.json` });
});
