import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface QuantizeOptions {
  dtype?: 'uint8' | 'uint16';
  /** Which weights to quantise (by manifest name); the rest stay float32. All by default. */
  only?: (name: string) => boolean;
}

/**
 * Copy a float32 LayersModel into `dir` with its weights stored as tfjs's converter stores
 * quantised ones: the manifest entry keeps `dtype: float32` and gains `quantization: {dtype, min,
 * scale}`; the bytes hold round((v - min) / scale) and tfjs expands them to v ≈ q * scale + min.
 * Returns the new model.json path and each quantised weight's scale, for tolerance checks.
 */
export function writeQuantizedModel(modelJson: string, dir: string, opts: QuantizeOptions = {}): { path: string; scales: Map<string, number> } {
  const dtype = opts.dtype ?? 'uint8';
  const levels = dtype === 'uint8' ? 255 : 65535;
  const json = JSON.parse(readFileSync(modelJson, 'utf8'));
  const scales = new Map<string, number>();
  const chunks: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    const bytes = Buffer.concat(group.paths.map((p: string) => readFileSync(join(dirname(modelJson), p))));
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || w.quantization) throw new Error(`${w.name}: only plain float32 weights can be quantised here`);
      const n = w.shape.reduce((a: number, b: number) => a * b, 1);
      const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + n * 4));
      offset += n * 4;
      if (opts.only && !opts.only(w.name)) {
        chunks.push(new Uint8Array(values.buffer));
        continue;
      }
      let min = Infinity;
      let max = -Infinity;
      for (const v of values) (min = Math.min(min, v)), (max = Math.max(max, v));
      // A constant tensor still needs a non-zero scale; every value then maps to 0 exactly.
      const scale = max > min ? (max - min) / levels : 1;
      const q = dtype === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
      for (let i = 0; i < n; i++) q[i] = Math.round((values[i] - min) / scale);
      chunks.push(new Uint8Array(q.buffer));
      w.quantization = { dtype, min, scale };
      scales.set(w.name, scale);
    }
    group.paths = ['weights.bin'];
  }
  // One shard for all groups, as the shipped model has; a manifest of several groups keeps its order.
  json.weightsManifest = [{ paths: ['weights.bin'], weights: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights) }];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat(chunks));
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return { path, scales };
}
