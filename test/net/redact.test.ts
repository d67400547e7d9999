import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactUrl, redactUrlsDeep, redactUrlsIn } from '../../src/net/redact.ts';

test('a URL is printed without user:password, query or fragment; an unparsable one not at all', () => {
  assert.equal(redactUrl('https://u:p@h.example/m/model.json?X-Amz-Signature=abc&X-Amz-Credential=k#t=1'), 'https://h.example/m/model.json');
  assert.equal(redactUrl('http://h:5000/'), 'http://h:5000');
  assert.equal(redactUrl('http://[oops'), '<unparsable URL>');
});

test('in text, only URLs that carry secrets change, and the text around them stays', () => {
  const yaml = 'base_model:\n  source: "https://h/model.json?token=abc"\n  # see http://docs.example/page\ndata: { path: s3://b/k?sig=1 }\n';
  assert.equal(redactUrlsIn(yaml), 'base_model:\n  source: "https://h/model.json"\n  # see http://docs.example/page\ndata: { path: s3://b/k }\n');
  // Punctuation that ends a sentence or a label is not part of the URL before it.
  assert.equal(redactUrlsIn('--queue http://127.0.0.1:6379: scheme "http:"'), '--queue http://127.0.0.1:6379: scheme "http:"');
  assert.equal(redactUrlsIn('fetch (https://h/m.json?sig=1), then https://u:p@h/x.'), 'fetch (https://h/m.json), then https://h/x.');
});

test('in a document, every string that is a URL with secrets is redacted, wherever it sits', () => {
  const doc = { a: 'https://h/x?t=1', b: ['plain ?text', { c: 'http://u:p@h/y' }], n: 3 };
  assert.deepEqual(redactUrlsDeep(doc), { a: 'https://h/x', b: ['plain ?text', { c: 'http://h/y' }], n: 3 });
});
