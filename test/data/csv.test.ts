import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DataError } from '../../src/data/errors.ts';
import { parseCsv } from '../../src/data/readers/csv-parse.ts';
import { readCsv } from '../../src/data/readers/csv.ts';
import { tempDir, write } from './fixtures.ts';

test('parseCsv handles quoted commas, doubled quotes, embedded newlines, CRLF, BOM and blank lines', () => {
  const text = '\ufeffa,b,c\r\n"x, y","say ""hi""",3\r\n\r\n"multi\nline",,"last"\n';
  const records = parseCsv(text, 'q.csv');
  assert.deepEqual(records, [
    { fields: ['a', 'b', 'c'], line: 1 },
    { fields: ['x, y', 'say "hi"', '3'], line: 2 },
    { fields: ['multi\nline', '', 'last'], line: 4 },
  ]);
});

test('parseCsv reports an unterminated quote at the line where it opened', () => {
  assert.throws(() => parseCsv('a,b\n1,2\n3,"oops\n4,5\n', 'u.csv'), { name: 'DataError', message: 'u.csv:3: unterminated quoted field' });
  assert.throws(() => parseCsv('a\n"x"y\n', 'j.csv'), /j\.csv:2: unexpected character "y" after a closing quote/);
});

test('readCsv: quoted fields, feature columns default to all but the label, integer labels become numbers', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'd.csv'), 'x,"label",y\n1.5,"2",-3\n" 4 ",10,5e-1\n');
  const raw = await readCsv(file, { labelColumn: 'label' });
  assert.deepEqual(raw.exampleShape, [2]);
  assert.deepEqual(Array.from(raw.values), [1.5, -3, 4, 0.5]);
  assert.deepEqual(raw.labels, [2, 10]);
});

test('readCsv keeps string labels and the requested feature order', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'd.csv'), 'a,b,c,kind\n1,2,3,"setosa, wild"\n4,5,6,07b\n');
  const raw = await readCsv(file, { labelColumn: 'kind', featureColumns: ['c', 'a'] });
  assert.deepEqual(Array.from(raw.values), [3, 1, 6, 4]);
  assert.deepEqual(raw.labels, ['setosa, wild', '07b']);
});

test('readCsv names file, line and column of a non-numeric cell (line counts quoted newlines)', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'bad.csv'), 'note,width,label\n"two\nlines",1,a\nok,wide,b\n');
  await assert.rejects(readCsv(file, { labelColumn: 'label', featureColumns: ['width'] }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.file, file);
    assert.equal(err.row, 4);
    assert.equal(err.message, `${file}:4: column "width": expected a number, found "wide"`);
    return true;
  });
  const empty = await write(join(dir, 'empty-cell.csv'), 'w,label\n,a\n');
  await assert.rejects(readCsv(empty, { labelColumn: 'label' }), { message: `${empty}:2: column "w": expected a number, found ""` });
});

test('readCsv lists the available columns when a name is unknown', async () => {
  const dir = await tempDir();
  const file = await write(join(dir, 'd.csv'), 'a,b,y\n1,2,x\n');
  await assert.rejects(readCsv(file, { labelColumn: 'label' }), {
    message: `${file}: label column "label" not found; available columns: "a", "b", "y"`,
  });
  await assert.rejects(readCsv(file, { labelColumn: 'y', featureColumns: ['a', 'zz'] }), {
    message: `${file}: feature column "zz" not found; available columns: "a", "b", "y"`,
  });
});

test('readCsv rejects ragged rows, unnamed feature columns and header-only files', async () => {
  const dir = await tempDir();
  const ragged = await write(join(dir, 'r.csv'), 'a,label\n1,x\n2\n');
  await assert.rejects(readCsv(ragged, { labelColumn: 'label' }), { message: `${ragged}:3: expected 2 fields as in the header, found 1` });
  const pandas = await write(join(dir, 'p.csv'), ',a,label\n0,1,x\n');
  await assert.rejects(readCsv(pandas, { labelColumn: 'label' }), /column 1 has no header name/);
  const headerOnly = await write(join(dir, 'h.csv'), 'a,label\n');
  await assert.rejects(readCsv(headerOnly, { labelColumn: 'label' }), /no data rows/);
});
