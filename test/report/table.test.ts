import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable } from '../../src/report/table.ts';

test('a table pads each column to its widest cell and right-aligns numbers', () => {
  assert.equal(formatTable(['#', 'name', 'params'], [[0, 'conv1', 320], [1, 'dense', 37253]]), ['#  name   params', '0  conv1     320', '1  dense   37253'].join('\n'));
});

test('a table of 200,000 rows (a plan of that many variants) is formatted, not a stack overflow', () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [i, `v${i}`]);
  const lines = formatTable(['#', 'variant'], rows).split('\n');
  assert.equal(lines.length, 200_001);
  assert.equal(lines[1], '     0  v0');
});
