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

/** One loaded ONNX graph with a single float input and output, run in batches. */
export class OnnxSession {
  private constructor(
    private readonly session: Ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
  ) {}

  /** Threads = cores and every graph optimisation: the session runs frozen layers over whole datasets. */
  static async load(model: Uint8Array | string): Promise<OnnxSession> {
    const ort = runtime();
    const options: Ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    };
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    return new OnnxSession(session, session.inputNames[0], session.outputNames[0]);
  }

  /** Rows of `exampleShape` in, rows of the output out; `onBatch` lets callers yield to the event loop. */
  async run(x: Float32Array, exampleShape: readonly number[], batchSize: number, onBatch?: () => Promise<void>): Promise<{ data: Float32Array; shape: number[] }> {
    const ort = runtime();
    const size = exampleShape.reduce((a, b) => a * b, 1);
    const rows = x.length / size;
    let out: Float32Array | undefined;
    let rowShape: number[] = [];
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const input = new ort.Tensor('float32', x.subarray(start * size, (start + n) * size), [n, ...exampleShape]);
      const result = (await this.session.run({ [this.inputName]: input }))[this.outputName];
      const data = result.data as Float32Array;
      if (!out) {
        rowShape = (result.dims as number[]).slice(1);
        out = new Float32Array(rows * (data.length / n));
      }
      out.set(data, start * (data.length / n));
      input.dispose();
      result.dispose();
      await onBatch?.();
    }
    return { data: out ?? new Float32Array(0), shape: rowShape };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
