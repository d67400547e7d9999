import type { Tf } from '../../engine/backends.ts';
import type { Experiment } from '../../spec/types.ts';
import type { BuiltModel } from '../build.ts';
import type { BaseModel, ModelLocation } from '../source.ts';
import type { LayerInfo } from '../topology.ts';

/** A base model as its family read it, with its layers as checks, plans and tables name them. */
export interface LoadedBase<B extends BaseModel = BaseModel> {
  base: B;
  layers: LayerInfo[];
}

/** A variant's model built to be shown (plan, inspect): nothing trains. */
export interface BuiltVariant {
  /** The tfjs part: the whole model, or the head alone when the base runs outside tfjs. */
  built: BuiltModel;
  /** Base layers kept outside tfjs (frozen), in front of `built`. */
  outside?: LayerInfo[];
  /** One example's input shape as tunespec feeds it (NHWC), when the base runs outside tfjs. */
  inputShape?: number[];
  dispose(): Promise<void>;
}

/**
 * One kind of base model (a tfjs LayersModel, an ONNX graph, and next BERT or Llama checkpoints):
 * how to read it, list its named layers, and build a variant on it cut at a layer. A new family is
 * a module implementing this, registered in families/index.ts; callers never branch on the format.
 */
export interface ModelFamily<B extends BaseModel = BaseModel> {
  readonly format: B['format'];
  /** Whether a `base_model.source` names this family's files; the default family claims the rest. */
  claims?(source: string): boolean;
  /** Read the base from where it lives, and its layers (what `base_model.cut` and `freeze` name). */
  load(location: ModelLocation): Promise<LoadedBase<B>>;
  /** The variant's model: the base cut after layer `cutIndex`, then the spec's head, frozen as the spec says. */
  build(tf: Tf, loaded: LoadedBase<B>, cutIndex: number, spec: Experiment): Promise<BuiltVariant>;
}
