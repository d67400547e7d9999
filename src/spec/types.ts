import type { FromSchema } from 'json-schema-to-ts';
import type { ExperimentSchema } from './schema.ts';

// What ajv hands back after applying the schema's defaults: every defaulted field is present.
type CheckedSpec = FromSchema<ExperimentSchema>;
type HeadLayers = NonNullable<CheckedSpec['head']>;
type AnyDataSpec = CheckedSpec['data'];
export type ChatDataSpec = Extract<AnyDataSpec, { format: 'chat' }>;

/**
 * A checked spec, typed as the classification pipeline reads it: there `head` is present and the
 * data is not chat data (structure.ts refuses a classification spec without a head, or with chat
 * data). A generation spec (`task: generation`) has neither; the stages branch on `taskOf` before
 * they read those fields, and read a generation spec through `GenerationExperiment`.
 */
export type Experiment = Omit<CheckedSpec, 'head' | 'data'> & { head: HeadLayers; data: Exclude<AnyDataSpec, ChatDataSpec> };

/** A checked spec with `task: generation`: no head, chat data. */
export type GenerationExperiment = Omit<CheckedSpec, 'head' | 'data' | 'task'> & { task: 'generation'; data: ChatDataSpec };

export type DataSpec = Experiment['data'];
export type HeadLayerSpec = Experiment['head'][number];
export type FreezeRange = Experiment['freeze'][number];
export type TrainingSpec = Experiment['training'];
export type ScheduleSpec = TrainingSpec['schedule'];
export type AugmentSpec = Extract<DataSpec, { format: 'idx' }>['augment'];
export type ImageDataSpec = Extract<DataSpec, { format: 'idx' | 'image_folder' }>;
export type TextDataSpec = Extract<DataSpec, { format: 'text' }>;
export type LoraSpec = NonNullable<Experiment['lora']>;
export type LoraLayers = NonNullable<LoraSpec['layers']>;
export type GenerationSection = NonNullable<Experiment['generation']>;
export type Task = NonNullable<Experiment['task']>;
