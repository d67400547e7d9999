// The only module that imports onnxruntime-node; loaded on first use so commands that never run
// an ONNX graph never load its native library.
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import type * as Ort from 'onnxruntime-node';

let ort: typeof Ort | undefined;

function runtime(): typeof Ort {
  return (ort ??= createRequire(import.meta.url)('onnxruntime-node') as typeof Ort);
}

export function onnxRuntimeVersion(): string {
  return `onnxruntime-node ${runtime().env.versions.node ?? 'unknown'}`;
}

/** One loaded ONNX graph, run in batches: one float input (images, features) or several named ones (text). */
export class OnnxSession {
  private constructor(
    private readonly session: Ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
  ) {}

  /**
   * Threads = cores and every graph optimisation: the session runs frozen layers over whole
   * datasets. `interleaved`: runs alternate with tfjs training steps, so the pool's threads sleep
   * between runs instead of spinning on the cores tfjs needs.
   */
  static async load(model: Uint8Array | string, { interleaved = false } = {}): Promise<OnnxSession> {
    const ort = runtime();
    const options: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      ...(interleaved && { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    return new OnnxSession(session, session.inputNames[0], session.outputNames[0]);
  }

  /** Rows of `exampleShape` in, rows of the output out; `onBatch` lets callers yield to the event loop. */
  async run(x: Float32Array, exampleShape: readonly number[], batchSize: number, onBatch?: () => Promise<void>): Promise<{ data: Float32Array; shape: number[] }> {
    return this.runNamed({ [this.inputName]: { data: x, rowShape: exampleShape } }, batchSize, onBatch);
  }

  /**
   * Several named inputs, each rows of its `rowShape` (the same number of rows), fed in batches;
   * the first output's rows out. Int32Array rows (token ids, attention masks) are fed as int64,
   * the type tunespec's text exports declare.
   */
  async runNamed(feeds: Record<string, { data: Float32Array | Int32Array; rowShape: readonly number[] }>, batchSize: number, onBatch?: () => Promise<void>): Promise<{ data: Float32Array; shape: number[] }> {
    const ort = runtime();
    const named = Object.entries(feeds).map(([name, f]) => ({ name, ...f, size: f.rowShape.reduce((a, b) => a * b, 1) }));
    const rows = named.length ? named[0].data.length / named[0].size : 0;
    let out: Float32Array | undefined;
    let rowShape: number[] = [];
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const inputs = Object.fromEntries(
        named.map((f) => {
          const part = f.data.subarray(start * f.size, (start + n) * f.size);
          const dims = [n, ...f.rowShape];
          return [f.name, part instanceof Int32Array ? new ort.Tensor('int64', BigInt64Array.from(part, (v) => BigInt(v)), dims) : new ort.Tensor('float32', part, dims)];
        }),
      );
      const result = (await this.session.run(inputs))[this.outputName];
      const data = result.data as Float32Array;
      if (!out) {
        rowShape = (result.dims as number[]).slice(1);
        out = new Float32Array(rows * (data.length / n));
      }
      out.set(data, start * (data.length / n));
      Object.values(inputs).forEach((t) => t.dispose());
      result.dispose();
      await onBatch?.();
    }
    return { data: out ?? new Float32Array(0), shape: rowShape };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
