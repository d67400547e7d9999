import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { httpGet } from '../../src/net/http-get.ts';
import { downloadProgress, type ProgressSink } from '../../src/net/download-progress.ts';
import { freePort } from '../helpers/mlflow-server.ts';
import { serveBaseModel } from '../helpers/model-server.ts';

const QUICK = { timeoutSeconds: 2, retries: 1 };

/** What a download printed, to a terminal or to a log. */
function capture(isTTY: boolean): ProgressSink & { text: string } {
  return { isTTY, text: '', write(t: string) { this.text += t; } };
}

test('a large download shows its size and progress: a few lines in a log, one updating line on a terminal', async () => {
  const big = randomBytes(3 << 20);
  const server = await serveBaseModel({ files: { '/big.bin': big } });
  try {
    const url = `http://127.0.0.1:${server.port}/big.bin?token=s3cret`;
    const log = capture(false);
    const bytes = await httpGet(url, { settings: QUICK, progress: (label) => downloadProgress(label, log) });
    assert.ok(Buffer.from(bytes).equals(big));
    const lines = log.text.trimEnd().split('\n');
    assert.ok(lines.length >= 2 && lines.length <= 3, log.text);
    assert.equal(lines[0], `downloading http://127.0.0.1:${server.port}/big.bin (3.0 MiB)`);
    assert.equal(lines.at(-1), `downloaded http://127.0.0.1:${server.port}/big.bin: 3.0 MiB`);

    const tty = capture(true);
    await httpGet(url, { settings: QUICK, progress: (label) => downloadProgress(label, tty) });
    assert.match(tty.text, /\r\x1b\[2Kdownloading http:\/\/127\.0\.0\.1:\d+\/big\.bin: [\d.]+ (KiB|MiB) of 3\.0 MiB \(\d+%\)/);
    assert.equal(tty.text.split('\n').length, 2, 'one line, ended once');
    assert.ok(!log.text.includes('s3cret') && !tty.text.includes('s3cret'));
  } finally {
    server.close();
  }
});

test('a small download passes without a word', async () => {
  const server = await serveBaseModel();
  try {
    const log = capture(false);
    await httpGet(`http://127.0.0.1:${server.port}/models/model.json`, { settings: QUICK, progress: (label) => downloadProgress(label, log) });
    assert.equal(log.text, '');
  } finally {
    server.close();
  }
});

test('a refused connection is retried, then named in one line without the URL secrets', async () => {
  const port = await freePort();
  await assert.rejects(httpGet(`http://user:pw@127.0.0.1:${port}/m.json?sig=abc#x`, { settings: QUICK }), {
    message: `cannot fetch http://127.0.0.1:${port}/m.json: ECONNREFUSED (2 attempts)`,
  });
});

test('429 is retried', async () => {
  const server = await serveBaseModel({ failFirst: { count: 1, status: 429, retryAfter: '1' } });
  try {
    await httpGet(`http://127.0.0.1:${server.port}/models/model.json`, { settings: QUICK });
    assert.equal(server.requests.length, 2);
  } finally {
    server.close();
  }
});
