import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export const TINY_LLAMA = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama');
export const TINY_LLAMA_GGUF = join(ROOT, 'test', 'fixtures', 'text', 'tiny-llama.gguf');
export const CHAT_REVIEWS = join(ROOT, 'test', 'fixtures', 'text', 'chat-reviews.jsonl');

/** A generation spec's YAML on the tiny Llama and the chat reviews (128 tokens): `body` follows the shared lines. */
export function tinyChatSpec(name: string, body: string): string {
  return `name: ${name}
task: generation
base_model: { source: ${JSON.stringify(TINY_LLAMA)} }
data: { format: chat, path: ${JSON.stringify(CHAT_REVIEWS)}, max_length: 128 }
${body}`;
}

export interface GenerationVariant {
  experiment: string;
  sweep: string;
  variant: string;
  /** The base model as training records it. */
  base?: { name: string; source: string };
  metrics?: Record<string, number>;
  status?: 'completed' | 'failed';
  finished?: string;
}

/**
 * A completed generation variant as training leaves it in the run store (the contract of issue
 * 16): `<runs>/<experiment>/<sweep>/<variant>/` with the merged model (here the tiny Llama
 * folder), status.json (format 2, with `model`), result.json, and the sweep's sweep.json. The
 * store's reader validates each file against its schema, so a wrong layout fails the tests.
 * Tests of generate and serve use it because the merged model's weights are then known (the
 * NumPy reference's greedy tokens hold) and no training runs; test/cli/generation-lora.test.ts
 * drives the same commands on a variant `tunespec run` trained.
 * Returns the variant's model name.
 */
export function layOutGenerationVariant(runsDir: string, v: GenerationVariant): string {
  const base = v.base ?? { name: 'tiny-llama', source: TINY_LLAMA_GGUF };
  const sweepDir = join(runsDir, v.experiment, v.sweep);
  const dir = join(sweepDir, v.variant);
  mkdirSync(dir, { recursive: true });
  cpSync(TINY_LLAMA, join(dir, 'merged'), { recursive: true });
  const name = `ft:${base.name}:${v.experiment}:${v.variant}`;
  const finished = v.finished ?? '2025-01-02T03:04:05.000Z';
  writeFileSync(
    join(sweepDir, 'sweep.json'),
    JSON.stringify({ format: 2, sweep: v.sweep, experiment: v.experiment, spec: 'generation.yaml', variants: [{ id: v.variant, label: `variant ${v.variant}`, overrides: {} }], started: '2025-01-02T03:00:00.000Z' }),
  );
  const status = {
    format: 2,
    status: v.status ?? 'completed',
    variant: v.variant,
    label: `variant ${v.variant}`,
    sweep: v.sweep,
    attempt: `${v.variant}-attempt`,
    seconds: 12.5,
    started: '2025-01-02T03:00:00.000Z',
    finished,
    engine: { name: 'wasm' },
    model: { name, task: 'generation', base, folder: 'merged' },
  };
  writeFileSync(join(dir, 'status.json'), JSON.stringify(status, null, 2));
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ metrics: v.metrics ?? { val_loss: 1 }, confusion: [], class_names: [] }));
  return name;
}
