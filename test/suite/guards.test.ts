// `npm test`'s own guards (scripts/test.sh), driven on small test files that misbehave: a file
// never leaves a server running or the suite waiting, and never writes into the user's home.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { ROOT } from '../helpers/cli.ts';

/** `npm test <file>`, as scripts/test.sh runs it: a runner of its own, not this file's child. */
function npmTest(file: string, env: Record<string, string> = {}): { code: number | null; out: string } {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
  const r = spawnSync('bash', ['scripts/test.sh', `test/fixtures/suite/${file}`], { cwd: ROOT, env: { ...base, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function serverPort(out: string): number {
  const port = Number(/redis port (\d+)/.exec(out)?.[1]);
  assert.ok(port > 0, out);
  return port;
}

test('a before that fails after starting a server ends its file, and the server with it', async () => {
  const r = npmTest('failed-before.ts');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /the second server did not start/);
  assert.equal(await answers(serverPort(r.out)), false, 'the server outlived its test file');
});

test('a server that cannot be spawned fails its file, which still ends', () => {
  const r = npmTest('server-missing.ts');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /spawn \/nonexistent\/redis-server ENOENT/);
});

test('the watchdog ends a file that overruns, names it, and stops its servers', async () => {
  const r = npmTest('overruns.ts', { TUNESPEC_TEST_TIMEOUT_MS: '8000' });
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /not ok \d+ - .*test\/fixtures\/suite\/overruns\.ts/);
  assert.match(r.out, /timed out after 8000ms/);
  assert.equal(await answers(serverPort(r.out)), false, 'the server outlived its test file');
});

test('a test that writes into HOME fails the suite, naming what it wrote', () => {
  const r = npmTest('writes-home.ts');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /^# pass 1$/m);
  assert.match(r.out, /the tests wrote into HOME, which they must never touch:\n {2}~\/\.cache\/tunespec\/entry\n/);
});
