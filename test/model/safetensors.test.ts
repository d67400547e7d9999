// The safetensors reader: every dtype the writer makes reads back, the files Python's safetensors
// wrote (the tiny BERT fixture) read as that library laid them out, sharded folders resolve through
// their index, and each kind of broken file is refused with a message that names it and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSafetensors } from '../../src/model/hf/safetensors-write.ts';
import { parseSafetensors, tensorValues } from '../../src/model/hf/safetensors.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';
import { ModelError } from '../../src/errors.ts';
import { ROOT, tempDir } from '../helpers/cli.ts';

const TINY = join(ROOT, 'test', 'fixtures', 'text', 'tiny-bert');
const VALUES = [0, 1, -2.5, 0.333251953125, 65504, -1e-3];

test('F32, F16, BF16, I64 and I32 tensors read back as written', () => {
  const bytes = encodeSafetensors(
    [
      { name: 'f32', dtype: 'F32', shape: [2, 3], values: VALUES },
      { name: 'f16', dtype: 'F16', shape: [6], values: VALUES },
      { name: 'bf16', dtype: 'BF16', shape: [3, 2], values: VALUES },
      { name: 'ids', dtype: 'I64', shape: [1, 4], values: [0, 1, 2, -7] },
      { name: 'i32', dtype: 'I32', shape: [2], values: [5, -5] },
    ],
    { format: 'pt' },
  );
  const file = parseSafetensors(bytes, 'mem.safetensors');
  assert.deepEqual(file.metadata, { format: 'pt' });
  assert.deepEqual([...tensorValues(file, 'f32').values], [...new Float32Array(VALUES)]);
  assert.deepEqual(tensorValues(file, 'f32').shape, [2, 3]);
  // 0.333251953125 and 65504 are exact in half precision; -1e-3 rounds to the nearest half.
  const f16 = [...tensorValues(file, 'f16').values];
  assert.deepEqual(f16.slice(0, 5), [0, 1, -2.5, 0.333251953125, 65504]);
  assert.ok(Math.abs(f16[5] + 1e-3) < 1e-6, `f16 -1e-3 read as ${f16[5]}`);
  const bf16 = [...tensorValues(file, 'bf16').values];
  assert.deepEqual(bf16.slice(0, 3), [0, 1, -2.5]);
  bf16.forEach((v, i) => assert.ok(Math.abs(v - VALUES[i]) <= Math.abs(VALUES[i]) / 128, `bf16[${i}] = ${v}`));
  const ids = tensorValues(file, 'ids');
  assert.ok(ids.values instanceof Int32Array);
  assert.deepEqual([...ids.values], [0, 1, 2, -7]);
  assert.deepEqual([...tensorValues(file, 'i32').values], [5, -5]);
});

test('a file written by Python safetensors reads with its dtypes, shapes and values', async () => {
  const weights = await readHfWeights(TINY);
  const ids = weights.values('embeddings.position_ids');
  assert.equal(ids.dtype, 'I64');
  assert.deepEqual(ids.shape, [1, 128]);
  assert.deepEqual([...ids.values.slice(0, 5)], [0, 1, 2, 3, 4]);
  const q = weights.entry('encoder.layer.1.attention.self.query.weight')!;
  assert.deepEqual([q.dtype, q.shape], ['F32', [32, 32]]);
  assert.equal(weights.names().length, 6 + 2 * 16 + 2);
});

test('sharded weights resolve through model.safetensors.index.json', async () => {
  const dir = tempDir();
  await writeFile(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors([{ name: 'a.weight', dtype: 'F32', shape: [2], values: [1, 2] }]));
  await writeFile(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors([{ name: 'b.weight', dtype: 'BF16', shape: [1], values: [3] }]));
  const index = { metadata: { total_size: 10 }, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' } };
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  const weights = await readHfWeights(dir);
  assert.deepEqual(weights.names().sort(), ['a.weight', 'b.weight']);
  assert.deepEqual([...weights.values('a.weight').values], [1, 2]);
  assert.deepEqual([...weights.values('b.weight').values], [3]);

  index.weight_map['b.weight'] = 'model-00003-of-00002.safetensors';
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  await assert.rejects(readHfWeights(dir), { message: `${join(dir, 'model.safetensors.index.json')} names shard model-00003-of-00002.safetensors, which is not in ${dir}` });
});

test('a folder without weights says which files it looked for', async () => {
  const dir = tempDir();
  await mkdir(join(dir, 'x'), { recursive: true });
  await assert.rejects(readHfWeights(dir), { message: `${dir} has neither model.safetensors nor model.safetensors.index.json` });
});

test('broken files are refused with the file and the reason', () => {
  const good = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [4], values: [1, 2, 3, 4] }]);
  const refuse = (bytes: Uint8Array, why: RegExp) =>
    assert.throws(
      () => parseSafetensors(bytes, 'bad.safetensors'),
      (err: Error) => err instanceof ModelError && err.message.startsWith('bad.safetensors is not a valid safetensors file: ') && why.test(err.message),
    );
  refuse(good.subarray(0, 5), /fewer than the 8-byte header length/);
  refuse(good.subarray(0, good.byteLength - 4), /tensor "w" ends at byte 16 of a 12-byte data section \(truncated file\?\)/);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  refuse(huge, /the header length says 1099511627776 bytes/);
  const header = (json: string): Uint8Array => {
    const head = new TextEncoder().encode(json);
    const out = new Uint8Array(8 + head.byteLength + 16);
    new DataView(out.buffer).setBigUint64(0, BigInt(head.byteLength), true);
    out.set(head, 8);
    return out;
  };
  refuse(header('{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0'), /its header is not JSON/);
  refuse(header('{"w": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}}'), /tensor "w" has dtype "Q4"; known: F64, F32/);
  refuse(header('{"w": {"dtype": "F32", "shape": [5], "data_offsets": [0, 16]}}'), /tensor "w" \(F32 \[5\]\) needs 20 bytes and its offsets span 16/);
  refuse(header('{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}'), /tensors "a" and "b" overlap/);
  const file = parseSafetensors(good, 'ok.safetensors');
  assert.throws(() => tensorValues(file, 'nope'), { message: 'ok.safetensors has no tensor "nope"' });
  const wide = parseSafetensors(encodeSafetensors([{ name: 'big', dtype: 'I64', shape: [1], values: [2 ** 40] }]), 'ids.safetensors');
  assert.throws(() => tensorValues(wide, 'big'), { message: 'ids.safetensors: tensor "big" holds 1099511627776, outside the int32 range tfjs can hold' });
});
