import { formatWarning } from '../../errors.ts';
import { contentIds } from '../../plan/canonical.ts';
import { modelTable, ModelTableCache, type LayerRow } from '../../app/model-table.ts';
import { formatTable } from '../../report/table.ts';
import { loadSpec, type LoadedSpec } from '../../app/load-spec.ts';
import type { Io } from '../io.ts';
import type { Variant } from '../../plan/expand.ts';
import { taskOf } from '../../spec/derived.ts';
import { loraBlocks } from '../../spec/layer-refs.ts';
import { decoderFrozen, loraParamsPerBlock } from '../../model/families/llama-decoder.ts';
import type { EngineRequest } from '../../engine/backends.ts';
import { estimateVariants, type VariantEstimate } from '../../app/plan-estimates.ts';
import { StepProbeCache } from '../../train/step-probe.ts';
import { EngineChoiceCache } from '../../engine/engine-choice.ts';
import { roughDuration } from '../../train/duration.ts';

/**
 * A generation variant's layers from the decoder's config, without loading its weights: each
 * layer frozen or trainable as decoderFrozen says, and a block with LoRA adapters counted with
 * their weights (only those train in it).
 */
function decoderLayers(spec: LoadedSpec, variant: Variant): (LayerRow & { lora: number })[] {
  const { base, layers } = spec.model;
  if (base.format !== 'llama') return [];
  const frozen = decoderFrozen(layers, variant.spec);
  const lora = variant.spec.lora;
  const adapted = new Set(lora ? loraBlocks(layers, lora.layers).blocks.map((i) => `model.layers.${i}`) : []);
  const perBlock = lora ? loraParamsPerBlock(base.config, lora) : 0;
  return layers.map((l, i) => {
    const extra = adapted.has(l.name) ? perBlock : 0;
    return { name: l.name, className: l.className, params: l.params + extra, trainable: !frozen[i] || extra > 0, lora: extra };
  });
}

function planDecoder(spec: LoadedSpec, io: Io): number {
  const trainable: number[] = [];
  for (const [n, v] of spec.plan.variants.entries()) {
    const rows = decoderLayers(spec, v);
    const frozen = decoderFrozen(spec.model.layers, v.spec);
    // The first variant's layers stand for the sweep's; the table below counts each variant's trainable weights.
    if (n === 0) {
      io.out(`Decoder of ${spec.experiment.name} (task: generation${v.spec.lora ? `, LoRA rank ${v.spec.lora.rank} on ${v.spec.lora.target_modules.join(', ')}` : ''}):`);
      io.out(
        formatTable(
          ['#', 'layer', 'class', 'params', 'state'],
          rows.map((r, i) => [i, r.name, r.className, r.params, r.lora ? `lora (${r.lora} trainable)` : r.trainable ? 'trainable' : 'frozen']),
        ),
      );
      io.out(`${rows.filter((r) => r.trainable).length} trainable, ${rows.filter((r) => !r.trainable).length} frozen layers\n`);
    }
    trainable.push(rows.reduce((n, r, i) => n + (r.lora ? r.lora : !frozen[i] ? r.params : 0), 0));
  }
  const keys = Object.keys(spec.plan.variants[0]?.overrides ?? {});
  io.out(`Sweep ${spec.plan.sweepId}: ${spec.plan.variants.length} variant(s)`);
  io.out(
    formatTable(
      ['#', 'variant', ...keys, 'trainable params'],
      spec.plan.variants.map((v, i) => [i, v.id, ...keys.map((k) => JSON.stringify(v.overrides[k])), trainable[i]]),
    ),
  );
  return 0;
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
  if (taskOf(spec.experiment) === 'generation') return planDecoder(spec, io);
  const byStructure = new Map<string, { rows: LayerRow[]; trainable: number }>();
  const tables = ModelTableCache.fromEnv();
  const trainable: number[] = [];
  const idOf = contentIds(); // variants share these parts: each is serialised once
  for (const v of spec.plan.variants) {
    const key = `${idOf(v.spec.base_model)} ${idOf(v.spec.head)} ${idOf(v.spec.freeze)}`;
    let known = byStructure.get(key);
    if (!known) {
      const rows = await modelTable(spec, v, tables);
      byStructure.set(key, (known = { rows, trainable: rows.filter((r) => r.trainable).reduce((n, r) => n + r.params, 0) }));
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
    trainable.push(known.trainable);
  }
  const keys = Object.keys(spec.plan.variants[0]?.overrides ?? {});
  const probes = StepProbeCache.fromEnv();
  const estimates = opts.estimate ? await estimateVariants(spec, { engine: opts.engine, featureCache: opts.featureCache, probes, choices: EngineChoiceCache.fromEnv() }) : undefined;
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
