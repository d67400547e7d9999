import { InternalError } from '../errors.ts';
import type { Experiment, GenerationExperiment, Task } from './types.ts';

/**
 * Values a spec implies but does not spell out, derived here once so that every stage and entry
 * point reads them the same way.
 */

/**
 * Spec fields that stay out of a variant's id: cosmetic, tracking, export and checkpoint fields (editing them
 * retrains nothing) and the sweep itself. Sweeping one would make identical variants.
 */
export const OUTSIDE_VARIANT_ID = ['name', 'description', 'tags', 'tracking', 'export', 'checkpoint', 'register', 'generation', 'sweep'] as const;

/** The part of a resolved spec a variant id hashes. */
export function variantIdentity(spec: Experiment): Record<string, unknown> {
  const identity: Record<string, unknown> = { ...spec };
  for (const field of OUTSIDE_VARIANT_ID) delete identity[field];
  return identity;
}

/** Losses go down, everything else up, unless the spec says otherwise. */
export function modeFor(metric: string, mode: 'max' | 'min' | undefined): 'max' | 'min' {
  return mode ?? (metric.endsWith('loss') ? 'min' : 'max');
}

/** What a sweep ranks its variants by. */
export interface Objective {
  metric: string;
  greaterIsBetter: boolean;
}

/** A spec's `training.objective` with its direction resolved. */
export function objectiveOf({ metric, mode }: { metric: string; mode?: 'max' | 'min' }): Objective {
  return { metric, greaterIsBetter: modeFor(metric, mode) === 'max' };
}

export type Layout = 'nhwc' | 'nchw';

/** The memory layout the base model takes its images in (tunespec's own tensors are NHWC). */
export function layoutOf(spec: Pick<Experiment, 'base_model'>): Layout {
  return spec.base_model.preprocess?.layout ?? 'nhwc';
}

/**
 * What a spec trains: a classifier (the default, and every spec written before `task` existed) or
 * a decoder for generation. `task` has no schema default so that older specs keep their variant ids.
 */
export function taskOf(spec: Pick<Experiment, 'task'>): Task {
  return spec.task ?? 'classification';
}

/** Batches whose gradients are summed before each optimizer step (task: generation). */
export function accumulationStepsOf(spec: Pick<Experiment, 'training'>): number {
  return spec.training.gradient_accumulation_steps ?? 1;
}

/** A spec of `task: generation` as generation code reads it; anything else here is a bug. */
export function asGeneration(spec: Experiment | GenerationExperiment): GenerationExperiment {
  const s = spec as unknown as GenerationExperiment;
  if (s.task !== 'generation' || s.data.format !== 'chat') throw new InternalError('a generation stage was given a classification spec');
  return s;
}
