// httpDownload against real loopback servers: an origin that redirects to a second "CDN" origin on
// a signed URL (as the Hub does with LFS files), servers that fail, cut a body short or loop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { downloadProgress, type ProgressSink } from '../../src/net/download-progress.ts';
import { httpDownload } from '../../src/net/http-download.ts';
import { tempDir } from '../helpers/cli.ts';

const QUICK = { timeoutSeconds: 2, retries: 1 };
const TOKEN = 'Bearer s3cr3t-t0ken';
const SIGNATURE = 'X-Amz-Signature=sig4242';
const BODY = randomBytes(3 << 20);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Seen {
  server: 'origin' | 'cdn';
  url: string;
  auth?: string;
  ifNoneMatch?: string;
}

const seen: Seen[] = [];
const servers: Server[] = [];
after(() => servers.forEach((s) => (s.closeAllConnections(), s.close())));

async function listen(name: Seen['server'], handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    seen.push({ server: name, url: req.url!, auth: req.headers.authorization, ifNoneMatch: req.headers['if-none-match'] as string | undefined });
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const cdn = await listen('cdn', (req, res) => {
  const path = req.url!.split('?')[0];
  if (path === '/broken') return void res.writeHead(500).end('oops');
  if (path === '/short') return void res.writeHead(200, { 'content-length': 1000 }).write(BODY.subarray(0, 10), () => req.socket.destroy());
  if (!req.url!.includes(SIGNATURE)) return void res.writeHead(403).end('signature does not match');
  res.writeHead(200, { 'content-length': BODY.byteLength, etag: '"cdn-etag"' }).end(BODY);
});
const origin = await listen('origin', (req, res) => {
  const path = req.url!.split('?')[0];
  const etag = `"${sha(BODY)}"`;
  if (path === '/file.bin') {
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
    return void res.writeHead(302, { location: `${cdn}/blob?${SIGNATURE}`, 'x-linked-etag': etag }).end();
  }
  if (path === '/broken.bin') return void res.writeHead(302, { location: `${cdn}/broken?${SIGNATURE}` }).end();
  if (path === '/short.bin') return void res.writeHead(302, { location: `${cdn}/short?${SIGNATURE}` }).end();
  if (path === '/loop') return void res.writeHead(307, { location: '/loop' }).end();
  res.writeHead(404).end('not found');
});

function capture(): ProgressSink & { text: string } {
  return { isTTY: false, text: '', write(t: string) { this.text += t; } };
}

test('a redirected file streams to disk with its sha256; credentials reach the first origin only; an unchanged file is not fetched again', async () => {
  const dest = join(tempDir(), 'file.bin');
  const log = capture();
  seen.length = 0;
  const r = await httpDownload(`${origin}/file.bin`, dest, { settings: QUICK, headers: { Authorization: TOKEN }, what: 'file.bin of acme/x', progress: (label) => downloadProgress(label, log) });
  assert.deepEqual(r, { status: 'downloaded', sha256: sha(BODY), etag: `"${sha(BODY)}"`, bytes: BODY.byteLength });
  assert.ok(readFileSync(dest).equals(BODY));
  assert.deepEqual(seen.map((s) => [s.server, s.auth]), [['origin', TOKEN], ['cdn', undefined]]);
  const lines = log.text.trimEnd().split('\n');
  assert.equal(lines[0], 'downloading file.bin of acme/x (3.0 MiB)');
  assert.equal(lines.at(-1), 'downloaded file.bin of acme/x: 3.0 MiB');

  writeFileSync(dest, 'kept');
  seen.length = 0;
  assert.deepEqual(await httpDownload(`${origin}/file.bin`, dest, { settings: QUICK, etag: r.status === 'downloaded' ? r.etag : null }), { status: 'not-modified' });
  assert.equal(readFileSync(dest, 'utf8'), 'kept', 'a 304 leaves the file alone');
  assert.deepEqual(seen.map((s) => [s.server, s.ifNoneMatch]), [['origin', `"${sha(BODY)}"`]]);

  // user:password in the URL is basic auth, for the first origin as well.
  seen.length = 0;
  await httpDownload(`http://user:pw@${origin.slice('http://'.length)}/file.bin`, dest, { settings: QUICK });
  assert.deepEqual(seen.map((s) => [s.server, s.auth]), [['origin', `Basic ${Buffer.from('user:pw').toString('base64')}`], ['cdn', undefined]]);
});

test('an optional file the server lacks is missing, a required one fails naming it; neither leaves a file', async () => {
  const dest = join(tempDir(), 'none');
  assert.deepEqual(await httpDownload(`${origin}/none?sig=abc`, dest, { settings: QUICK, optional: true }), { status: 'missing', httpStatus: 404 });
  await assert.rejects(httpDownload(`${origin}/none?sig=abc`, dest, { settings: QUICK, what: 'none of acme/x' }), {
    name: 'HttpError',
    status: 404,
    message: `cannot fetch none of acme/x (${origin}/none): HTTP 404 Not Found`,
  });
  assert.equal(existsSync(dest), false);
});

test('failures after a redirect are retried and named by the first URL, never the signed one', async () => {
  const dest = join(tempDir(), 'f');
  seen.length = 0;
  await assert.rejects(httpDownload(`${origin}/broken.bin`, dest, { settings: QUICK }), {
    message: `cannot fetch ${origin}/broken.bin: HTTP 500 Internal Server Error (2 attempts)`,
  });
  assert.deepEqual(seen.map((s) => s.server), ['origin', 'cdn', 'origin', 'cdn'], 'each retry starts again at the first URL');
  await assert.rejects(httpDownload(`${origin}/short.bin`, dest, { settings: QUICK }), (err: Error) => {
    // How many of the 10 bytes fetch hands over before it sees the close varies.
    assert.match(err.message, new RegExp(`^cannot fetch ${origin}/short\\.bin: the connection closed after (0|10) B of 1000 B \\(2 attempts\\)$`));
    return !err.message.includes('sig4242');
  });
  assert.equal(existsSync(dest), false, 'a body cut short leaves no file');
  await assert.rejects(httpDownload(`${origin}/loop`, dest, { settings: QUICK }), { message: `cannot fetch ${origin}/loop: more than 5 redirects` });
});
