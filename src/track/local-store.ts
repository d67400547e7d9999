import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Variant } from '../plan/expand.ts';
import type { EpochMetrics, SavedModel, SweepInfo, SweepListener, VariantInfo, VariantResult } from '../train/events.ts';
import { replaceDir, writeFileAtomic } from './atomic.ts';
import { flattenParams } from './params.ts';

export interface StoredVariant {
  dir: string;
  status: {
    status: string;
    reason?: string;
    variant: string;
    label: string;
    sweep: string;
    seconds: number;
    finished: string;
    engine?: VariantInfo['engine'];
    split?: VariantInfo['split'];
    data?: VariantInfo['data'];
  };
  result?: { metrics: EpochMetrics; confusion: number[][]; class_names: string[] };
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Write a trained model the way tfjs's file:// handler does, so `tf.loadLayersModel` reads it back. */
export async function writeModel(dir: string, model: SavedModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(model.weightData));
  const json = {
    format: 'layers-model',
    generatedBy: 'tunespec',
    modelTopology: model.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: model.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(json));
}

/**
 * The embedded default tracker: `runs/<experiment>/<sweep-id>/<variant-id>/`. A variant is written
 * into a hidden staging folder and renamed into place when it ends, so a crash never leaves a
 * folder that looks complete.
 */
export class LocalRunStore implements SweepListener {
  private sweepDir = '';
  private staging = new Map<string, string>();

  constructor(readonly root: string) {}

  experimentDir(experiment: string): string {
    return join(this.root, experiment);
  }

  /** Every stored attempt of every variant of an experiment, across sweeps. */
  async list(experiment: string): Promise<StoredVariant[]> {
    const out: StoredVariant[] = [];
    const exp = this.experimentDir(experiment);
    for (const sweep of await readdir(exp).catch(() => [] as string[])) {
      if (sweep.startsWith('.')) continue;
      for (const variant of await readdir(join(exp, sweep)).catch(() => [] as string[])) {
        const dir = join(exp, sweep, variant);
        const status = await readJson<StoredVariant['status']>(join(dir, 'status.json'));
        if (status) out.push({ dir, status, result: await readJson(join(dir, 'result.json')) });
      }
    }
    return out;
  }

  /** Completed attempts by variant id: read once per run, not once per variant. */
  async completed(experiment: string): Promise<Map<string, StoredVariant>> {
    const done = (await this.list(experiment)).filter((v) => v.status.status === 'completed');
    return new Map(done.map((v) => [v.status.variant, v]));
  }

  async onSweepStart(sweep: SweepInfo): Promise<void> {
    this.sweepDir = join(this.experimentDir(sweep.experiment), sweep.sweepId);
    await mkdir(this.sweepDir, { recursive: true });
    // Staging folders of a process that died are garbage: nothing in them ever completed.
    for (const name of await readdir(this.sweepDir)) {
      if (name.startsWith('.staging-')) await rm(join(this.sweepDir, name), { recursive: true, force: true });
    }
    await writeFileAtomic(join(this.sweepDir, 'spec.yaml'), sweep.specText);
    await writeFileAtomic(
      join(this.sweepDir, 'sweep.json'),
      JSON.stringify({ sweep: sweep.sweepId, experiment: sweep.experiment, spec: sweep.specFile, variants: sweep.variants.map((v) => ({ id: v.id, label: v.label })) }, null, 2),
    );
  }

  private async stage(variant: Variant): Promise<string> {
    let dir = this.staging.get(variant.id);
    if (!dir) {
      dir = join(this.sweepDir, `.staging-${variant.id}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'spec.yaml'), stringify(variant.spec));
      await writeFile(join(dir, 'params.json'), JSON.stringify(flattenParams(variant.spec), null, 2));
      this.staging.set(variant.id, dir);
    }
    return dir;
  }

  async onVariantStart(info: VariantInfo): Promise<void> {
    const dir = await this.stage(info.variant);
    await writeFile(join(dir, 'layers.json'), JSON.stringify(info.layers, null, 2));
  }

  async onEpochEnd(info: VariantInfo, epoch: number, metrics: EpochMetrics): Promise<void> {
    await appendFile(join(await this.stage(info.variant), 'metrics.jsonl'), JSON.stringify({ epoch: epoch + 1, ...metrics }) + '\n');
  }

  async onVariantEnd(variant: Variant, result: VariantResult, info?: VariantInfo): Promise<void> {
    const dir = await this.stage(variant);
    this.staging.delete(variant.id);
    if (result.model) await writeModel(join(dir, 'model'), result.model);
    if (result.metrics) {
      await writeFile(
        join(dir, 'result.json'),
        JSON.stringify({ metrics: result.metrics, confusion: result.confusion, class_names: info?.data.classNames }, null, 2),
      );
    }
    const status: StoredVariant['status'] = {
      status: result.status,
      reason: result.reason,
      variant: variant.id,
      label: variant.label,
      sweep: this.sweepDir.split('/').pop()!,
      seconds: result.seconds,
      finished: new Date().toISOString(),
      engine: info?.engine,
      split: info?.split,
      data: info?.data,
    };
    await writeFile(join(dir, 'status.json'), JSON.stringify(status, null, 2));
    await replaceDir(dir, join(this.sweepDir, variant.id));
  }
}
