import { formatWarning } from '../../errors.ts';
import { canonicalJson } from '../../plan/canonical.ts';
import { specModel } from '../../app/spec-model.ts';
import { formatTable } from '../../report/table.ts';
import { loadSpec, type LoadedSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';
import type { Variant } from '../../plan/expand.ts';
import type { EngineRequest } from '../../engine/backends.ts';
import { estimateVariants, type VariantEstimate } from '../../app/plan-estimates.ts';
import { StepProbeCache } from '../../train/step-probe.ts';
import { roughDuration } from '../../train/duration.ts';

interface LayerRow {
  name: string;
  className: string;
  params: number;
  trainable: boolean;
}

/** Layer table of the model a variant builds; built once per distinct cut/head/freeze. */
async function modelLayers(spec: LoadedSpec, variant: Variant): Promise<LayerRow[]> {
  const { built, outside = [], dispose } = await specModel(spec, variant);
  const rows = [
    ...outside.map((l) => ({ name: l.name, className: l.className, params: l.params, trainable: false })),
    ...built.layers.map((l, i) => ({ name: l.name, className: l.getClassName(), params: l.countParams(), trainable: !built.frozen[i] })),
  ];
  await dispose();
  return rows;
}

export interface PlanOptions {
  /** Show the engine and an estimated time per variant (measures a training step when not cached). */
  estimate: boolean;
  engine: EngineRequest;
  featureCache: boolean;
}

function estimateCell(e: VariantEstimate): string {
  if (e.seconds === undefined) return `- (${e.why})`;
  return `~${roughDuration(e.seconds)}`;
}

export async function planCommand(file: string, io: Io, opts: PlanOptions): Promise<number> {
  const spec = await loadSpec(file);
  for (const w of spec.warnings) io.err(formatWarning(w));
  const byStructure = new Map<string, LayerRow[]>();
  const trainable: number[] = [];
  const serialised = new WeakMap<object, string>(); // variants share these parts: each is serialised once
  for (const v of spec.plan.variants) {
    const key = canonicalJson([v.spec.base_model, v.spec.head, v.spec.freeze], serialised);
    let rows = byStructure.get(key);
    if (!rows) {
      rows = await modelLayers(spec, v);
      byStructure.set(key, rows);
      if (byStructure.size === 1) {
        const headStart = rows.length - v.spec.head.length;
        io.out(`Model of ${spec.experiment.name} (cut after layer ${spec.model.cutIndex} "${spec.model.layers[spec.model.cutIndex].name}"):`);
        io.out(
          formatTable(
            ['#', 'layer', 'class', 'params', 'state', 'part'],
            rows.map((r, i) => [i, r.name, r.className, r.params, r.trainable ? 'trainable' : 'frozen', i >= headStart ? 'head' : 'base']),
          ),
        );
        const frozen = rows.filter((r) => !r.trainable);
        io.out(`${rows.length - frozen.length} trainable, ${frozen.length} frozen layers\n`);
      }
    }
    trainable.push(rows.filter((r) => r.trainable).reduce((n, r) => n + r.params, 0));
  }
  const keys = Object.keys(spec.plan.variants[0]?.overrides ?? {});
  const probes = StepProbeCache.fromEnv();
  const estimates = opts.estimate ? await estimateVariants(spec, { engine: opts.engine, featureCache: opts.featureCache, probes }) : undefined;
  io.out(`Sweep ${spec.plan.sweepId}: ${spec.plan.variants.length} variant(s)`);
  io.out(
    formatTable(
      ['#', 'variant', ...keys, 'trainable params', ...(estimates ? ['engine', 'est. training'] : [])],
      spec.plan.variants.map((v, i) => [
        i,
        v.id,
        ...keys.map((k) => JSON.stringify(v.overrides[k])),
        trainable[i],
        ...(estimates ? [estimates[i].engine, estimateCell(estimates[i])] : []),
      ]),
    ),
  );
  if (estimates) {
    const measured = estimates.some((e) => e.measured) ? 'measured now' : 'measured earlier';
    io.out(
      `est. training: an estimate, one training step (${measured}, kept in ${probes.dir}) times the variant's steps; ` +
        'loading, computing frozen features and validation come on top. --no-estimate leaves it out.',
    );
  }
  return 0;
}
