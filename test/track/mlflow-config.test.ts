import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../src/errors.ts';
import { DEFAULT_RETRY, resolveTrackingConfig, type RetryPolicy, type TrackingSources } from '../../src/track/mlflow/config.ts';
import { backoffSeconds, RETRY_STATUSES, retryAfterSeconds } from '../../src/net/retry.ts';

const resolve = (s: Partial<TrackingSources>) => resolveTrackingConfig({ spec: {}, specName: 'spec-name', env: {}, ...s });

test('URI precedence: flag > spec.uri > MLFLOW_TRACKING_URI; undefined when none', () => {
  const env = { MLFLOW_TRACKING_URI: 'http://env:5000' };
  assert.equal(resolve({ flag: 'http://flag:1', spec: { uri: 'http://spec:2' }, env })!.uri, 'http://flag:1');
  assert.equal(resolve({ spec: { uri: 'http://spec:2' }, env })!.uri, 'http://spec:2');
  assert.equal(resolve({ env })!.uri, 'http://env:5000');
  assert.equal(resolve({}), undefined);
  assert.equal(resolve({ env: { MLFLOW_TRACKING_URI: '' } }), undefined);
});

test('experiment name: spec.experiment > MLFLOW_EXPERIMENT_NAME > spec name', () => {
  const uri = 'http://h:1';
  assert.equal(resolve({ flag: uri, spec: { experiment: 'from-spec' }, env: { MLFLOW_EXPERIMENT_NAME: 'from-env' } })!.experiment, 'from-spec');
  assert.equal(resolve({ flag: uri, env: { MLFLOW_EXPERIMENT_NAME: 'from-env' } })!.experiment, 'from-env');
  assert.equal(resolve({ flag: uri })!.experiment, 'spec-name');
});

test('auth: token is bearer, username/password is basic, credentials in the URI are basic and removed', () => {
  const uri = 'http://h:1';
  assert.deepEqual(resolve({ flag: uri, env: { MLFLOW_TRACKING_TOKEN: 'tok' } })!.auth, { kind: 'bearer', token: 'tok' });
  assert.deepEqual(resolve({ flag: uri, env: { MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' } })!.auth, {
    kind: 'basic',
    username: 'u',
    password: 'p',
  });
  assert.equal(resolve({ flag: uri })!.auth, undefined);

  const c = resolve({ env: { MLFLOW_TRACKING_URI: 'http://alice:s%40cret@tracking.example:5000/' } })!;
  assert.deepEqual(c.auth, { kind: 'basic', username: 'alice', password: 's@cret' });
  assert.equal(c.uri, 'http://tracking.example:5000');
  assert.ok(!c.uri.includes('alice') && !c.uri.includes('cret'), c.uri);
});

test('MLFLOW_TRACKING_INSECURE_TLS', () => {
  const uri = 'https://h:1';
  assert.equal(resolve({ flag: uri })!.insecureTls, false);
  assert.equal(resolve({ flag: uri, env: { MLFLOW_TRACKING_INSECURE_TLS: 'true' } })!.insecureTls, true);
  assert.equal(resolve({ flag: uri, env: { MLFLOW_TRACKING_INSECURE_TLS: '1' } })!.insecureTls, true);
  assert.equal(resolve({ flag: uri, env: { MLFLOW_TRACKING_INSECURE_TLS: 'false' } })!.insecureTls, false);
});

test('retry settings come from MLFLOW_HTTP_REQUEST_*; defaults otherwise', () => {
  assert.deepEqual(resolve({ flag: 'http://h:1' })!.retry, DEFAULT_RETRY);
  assert.deepEqual(DEFAULT_RETRY, { maxRetries: 7, backoffFactor: 2, backoffJitter: 1, timeoutSeconds: 120 });
  const c = resolve({
    flag: 'http://h:1',
    env: {
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3',
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.5',
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0',
      MLFLOW_HTTP_REQUEST_TIMEOUT: '10',
    },
  })!;
  assert.deepEqual(c.retry, { maxRetries: 3, backoffFactor: 0.5, backoffJitter: 0, timeoutSeconds: 10 });
});

for (const name of ['MLFLOW_HTTP_REQUEST_MAX_RETRIES', 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', 'MLFLOW_HTTP_REQUEST_TIMEOUT']) {
  for (const bad of ['abc', '-1']) {
    test(`${name}="${bad}" is a UsageError naming the variable`, () => {
      assert.throws(
        () => resolve({ flag: 'http://h:1', env: { [name]: bad } }),
        (e: unknown) => e instanceof UsageError && e.message.includes(name) && e.message.includes(bad),
      );
    });
  }
}

test('MLFLOW_HTTP_REQUEST_MAX_RETRIES must be an integer', () => {
  assert.throws(() => resolve({ flag: 'http://h:1', env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1.5' } }), UsageError);
});

for (const uri of ['file:///tmp/mlruns', 'sqlite:///mlflow.db', 'databricks', 'databricks://profile', 'not a url']) {
  test(`tracking URI "${uri}" is a UsageError`, () => {
    assert.throws(() => resolve({ flag: uri }), UsageError);
    assert.throws(() => resolve({ env: { MLFLOW_TRACKING_URI: uri } }), UsageError);
  });
}

test('a bad URI with credentials does not echo them', () => {
  assert.throws(
    () => resolve({ flag: 'ftp://bob:hunter2@h/' }),
    (e: unknown) => e instanceof UsageError && !e.message.includes('hunter2'),
  );
});

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({ ...DEFAULT_RETRY, ...p });

test('backoffSeconds without jitter: 0, then factor*2^(n-1), capped at 120', () => {
  const p = policy({ backoffFactor: 2, backoffJitter: 0 });
  assert.equal(backoffSeconds(1, p), 0);
  assert.equal(backoffSeconds(2, p), 4);
  assert.equal(backoffSeconds(3, p), 8);
  assert.equal(backoffSeconds(4, p), 16);
  assert.equal(backoffSeconds(7, p), 120);
  assert.equal(backoffSeconds(30, p), 120);
  assert.equal(backoffSeconds(3, policy({ backoffFactor: 0.01, backoffJitter: 0 })), 0.04);
});

test('backoffSeconds jitter stays within [0, jitter)', () => {
  const p = policy({ backoffFactor: 2, backoffJitter: 1 });
  for (let i = 0; i < 200; i++) {
    const first = backoffSeconds(1, p);
    assert.ok(first >= 0 && first < 1, `retry 1: ${first}`);
    const third = backoffSeconds(3, p);
    assert.ok(third >= 8 && third < 9, `retry 3: ${third}`);
    const capped = backoffSeconds(20, p);
    assert.ok(capped >= 120 && capped < 121, `retry 20: ${capped}`);
  }
});

test('backoffSeconds does not draw from Math.random', () => {
  const orig = Math.random;
  let calls = 0;
  Math.random = () => (calls++, 0.5);
  try {
    backoffSeconds(2, policy({ backoffJitter: 1 }));
  } finally {
    Math.random = orig;
  }
  assert.equal(calls, 0);
});

test('retryAfterSeconds reads seconds and HTTP dates; garbage and absence are undefined', () => {
  assert.equal(retryAfterSeconds('3'), 3);
  assert.equal(retryAfterSeconds('0'), 0);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterSeconds('Wed, 01 Jan 2025 00:00:10 GMT', now), 10);
  assert.equal(retryAfterSeconds('Tue, 31 Dec 2024 23:59:00 GMT', now), 0);
  assert.equal(retryAfterSeconds('soon-ish please', now), undefined);
  assert.equal(retryAfterSeconds(null), undefined);
  assert.equal(retryAfterSeconds(''), undefined);
});

test('RETRY_STATUSES are the Python client’s', () => {
  assert.deepEqual([...RETRY_STATUSES].sort(), [408, 429, 500, 502, 503, 504]);
  assert.ok(!RETRY_STATUSES.has(400) && !RETRY_STATUSES.has(404));
});
