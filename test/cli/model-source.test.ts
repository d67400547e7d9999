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
