import type { FromSchema } from 'json-schema-to-ts';
import type { ExperimentSchema } from './schema.ts';

// What ajv hands back after applying the schema's defaults: every defaulted field is present.
export type Experiment = FromSchema<ExperimentSchema>;
export type DataSpec = Experiment['data'];
export type HeadLayerSpec = Experiment['head'][number];
export type FreezeRange = Experiment['freeze'][number];
export type TrainingSpec = Experiment['training'];
export type ScheduleSpec = TrainingSpec['schedule'];
export type AugmentSpec = Extract<DataSpec, { format: 'idx' }>['augment'];
export type ImageDataSpec = Extract<DataSpec, { format: 'idx' | 'image_folder' }>;
export type TextDataSpec = Extract<DataSpec, { format: 'text' }>;
