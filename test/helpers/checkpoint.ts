import assert from 'node:assert/strict';
import type { TensorToWrite } from '../../src/model/hf/safetensors-write.ts';
import { readHfWeights } from '../../src/model/hf/weights.ts';

/** Exported weights are exactly a folder's checkpoint: the same names (less `skip`), shapes and bits. */
export async function assertSameCheckpoint(exported: TensorToWrite[], folder: string, skip: (name: string) => boolean = () => false): Promise<void> {
  const weights = await readHfWeights(folder);
  assert.deepEqual(exported.map((t) => t.name).sort(), weights.names().filter((n) => !skip(n)).sort());
  for (const t of exported) {
    const want = weights.values(t.name);
    assert.deepEqual(t.shape, want.shape, t.name);
    assert.deepEqual(Float32Array.from(t.values), want.values, t.name);
  }
}
