import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BASE_MODEL, tempDir, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';
import { serveBaseModel } from '../helpers/model-server.ts';

const { port, requests, close } = await serveBaseModel();
after(close);

test('a base model given as an http:// URL is fetched with its weight shards and trained', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'from-http', source: `http://127.0.0.1:${port}/models/model.json`, epochs: 1, sweep: '  training.seed: [1]' });
  const r = await tunespecAsync(['run', spec, '--runs-dir', join(dir, 'runs')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1 completed/);
  assert.ok(requests.includes('/models/model.json') && requests.includes('/models/weights.bin'), requests.join(' '));
  const sweep = readdirSync(join(dir, 'runs', 'from-http'))[0];
  const variant = readdirSync(join(dir, 'runs', 'from-http', sweep)).find((f) => /^[0-9a-f]{12}$/.test(f))!;
  const params = JSON.parse(readFileSync(join(dir, 'runs', 'from-http', sweep, variant, 'params.json'), 'utf8'));
  assert.equal(params['base_model.source'], `http://127.0.0.1:${port}/models/model.json`);
});

test('an http:// URL that answers 404 is a located spec error', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'missing-http', source: `http://127.0.0.1:${port}/models/nope.json` });
  const r = await tunespecAsync(['validate', spec]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr.trim(),
    `${spec}:3:11: base_model.source: cannot fetch http://127.0.0.1:${port}/models/nope.json: HTTP 404 Not Found`,
  );
});

test('a file:// URL works like a path', async () => {
  const dir = tempDir();
  const spec = writeSmallSpec(dir, { name: 'from-file-url', source: pathToFileURL(BASE_MODEL).toString() });
  const r = await tunespecAsync(['validate', spec]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${spec}: ok (2 variants)`);
});

/** A spec whose base model is served by `server`, and `validate` of it with these download settings. */
async function validateFrom(server: { port: number }, settings: Record<string, string>) {
  const dir = tempDir();
  const url = `http://127.0.0.1:${server.port}/models/model.json`;
  const spec = writeSmallSpec(dir, { name: 'slow-http', source: url });
  return { spec, url, ...(await tunespecAsync(['validate', spec], undefined, settings)) };
}

test('a server that accepts and never answers fails within the configured timeout, retried, in one line', async () => {
  const server = await serveBaseModel({ hang: true });
  try {
    const r = await validateFrom(server, { TUNESPEC_HTTP_TIMEOUT: '1', TUNESPEC_HTTP_RETRIES: '1' });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `${r.spec}:3:11: base_model.source: cannot fetch ${r.url}: no answer within 1 s (TUNESPEC_HTTP_TIMEOUT sets the limit) (2 attempts)`);
    assert.equal(server.requests.length, 2);
  } finally {
    server.close();
  }
});

test('a download that stalls mid-body fails after the idle timeout, saying how far it got', async () => {
  const server = await serveBaseModel({ stallAfter: 100 });
  try {
    const r = await validateFrom(server, { TUNESPEC_HTTP_TIMEOUT: '1', TUNESPEC_HTTP_RETRIES: '0' });
    assert.equal(r.code, 1);
    assert.match(r.stderr.trim(), /^[^\n]*: base_model\.source: cannot fetch http:\/\/127\.0\.0\.1:\d+\/models\/model\.json: the download stalled for 1 s after 100 B of \d+\.\d KiB \(TUNESPEC_HTTP_TIMEOUT sets the limit\)$/);
    assert.equal(server.requests.length, 1);
  } finally {
    server.close();
  }
});

test('a server that answers 503 twice, then the model, is retried and the spec validates', async () => {
  const server = await serveBaseModel({ failFirst: { count: 2, status: 503 } });
  try {
    const r = await validateFrom(server, {});
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(server.requests, ['/models/model.json', '/models/model.json', '/models/model.json', '/models/weights.bin']);
  } finally {
    server.close();
  }
});

test('a 4xx answer is final: asked once', async () => {
  const server = await serveBaseModel({ failFirst: { count: 5, status: 404 } });
  try {
    const r = await validateFrom(server, {});
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `${r.spec}:3:11: base_model.source: cannot fetch ${r.url}: HTTP 404 Not Found`);
    assert.equal(server.requests.length, 1);
  } finally {
    server.close();
  }
});
