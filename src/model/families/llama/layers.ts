import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { attentionBias, decoderBlock, positionsFromMask, project, PROJECTIONS, rmsNorm, ropeTables, type BlockShape, type BlockWeights, type Projection } from './ops.ts';

/**
 * Llama's layers as TensorFlow.js layers named by Hugging Face module prefix. Each owns its weights
 * under the HF parameter names relative to the layer ("model.layers.0" holds
 * "self_attn.q_proj.weight"), so a weight's full HF name is its layer's name, a dot, and its own; a
 * block owns its attention and MLP weights itself (tfjs-layers does not track nested layers'
 * weights, and one owner keeps freezing and naming exact).
 */
export interface LlamaBlockArgs extends BlockShape {
  hiddenSize: number;
  intermediateSize: number;
  ropeTheta: number;
}

/** `randomInit: false` starts every weight at zero: for a checkpoint about to be loaded, drawing 135M truncated normals would take ~20 s. */
type LayerArgs = { name: string; trainable?: boolean; randomInit?: boolean };

export interface LlamaEmbeddingLayer extends TF.layers.Layer {
  /**
   * The table, stored [hidden, vocab] (the transpose of Hugging Face's): as the tied LM head it is
   * then a plain matmul, 5x faster on wasm than one with a transposed operand, and a lookup
   * gathers columns instead of rows at no extra cost.
   */
  table(): TF.Tensor;
  lookup(ids: TF.Tensor): TF.Tensor;
}

/** What a block's LoRA branches are made with; A's initial values come from `initA` (B starts at zero). */
export interface BlockLoraArgs {
  rank: number;
  scale: number;
  dropout: number;
  /** Seeds the branch dropout's masks, a fresh mask per call. */
  seed: number;
  targets: readonly Projection[];
  initA: (target: Projection, shape: [number, number]) => TF.Tensor;
}

/** A block's LoRA as its tfjs layer config holds it, so a model saved with model.save() loads back with its branches. */
type SavedLora = Omit<BlockLoraArgs, 'initA'>;

export interface BlockLora {
  rank: number;
  scale: number;
  dropout: number;
  branches: Map<Projection, { a: TF.LayerVariable; b: TF.LayerVariable }>;
  /** Dropout masks drawn so far (each mask's seed counts them): what a training checkpoint keeps to continue the same masks. */
  calls: number;
}

export interface LlamaBlockLayer extends TF.layers.Layer {
  readonly shape: BlockShape & { ropeTheta: number };
  blockWeights(): BlockWeights;
  /** The base projection weight of `target`, [in, out]. */
  baseWeight(target: Projection): TF.LayerVariable;
  /**
   * Adds trainable LoRA weights beside the targets (`model.layers.N/self_attn.q_proj.lora_A.weight`
   * [in, r], `lora_B` [r, out]) and freezes the block's base weights: while it has them, the
   * block's `trainable` flag switches its LoRA weights only.
   */
  addLora(args: BlockLoraArgs): void;
  lora(): BlockLora | undefined;
  /** Disposes the LoRA weights and gives the base weights back the block's trainable flag. */
  dropLora(): void;
}

export interface LlamaNormLayer extends TF.layers.Layer {
  norm(x: TF.Tensor): TF.Tensor;
}

export interface LlamaHeadLayer extends TF.layers.Layer {
  logits(h: TF.Tensor): TF.Tensor;
}

export interface LlamaLayerClasses {
  Embedding: new (args: { vocabSize: number; hiddenSize: number } & LayerArgs) => LlamaEmbeddingLayer;
  Block: new (args: LlamaBlockArgs & LayerArgs & { lora?: SavedLora }) => LlamaBlockLayer;
  Norm: new (args: { hiddenSize: number; eps: number } & LayerArgs) => LlamaNormLayer;
  /** With `tiedTo`, the head has no weights of its own and multiplies by the embedding table. */
  Head: new (args: { vocabSize: number; hiddenSize: number; tiedTo?: LlamaEmbeddingLayer } & LayerArgs) => LlamaHeadLayer;
}

const classes = new WeakMap<Tf, LlamaLayerClasses>();

const lastAxis = (input: TF.Shape | TF.Shape[], size: number): TF.Shape => {
  const s = (Array.isArray(input[0]) ? input[0] : input) as TF.Shape;
  return [...s.slice(0, -1), size];
};

export function llamaLayerClasses(tf: Tf): LlamaLayerClasses {
  const known = classes.get(tf);
  if (known) return known;
  const ones = () => tf.initializers.ones();
  const init = (a: { randomInit?: boolean }) => (a.randomInit === false ? tf.initializers.zeros() : tf.initializers.truncatedNormal({ stddev: 0.02 }));

  class Embedding extends tf.layers.Layer {
    static className = 'TunespecLlamaEmbedding';
    private readonly a: { vocabSize: number; hiddenSize: number; randomInit?: boolean };
    private w!: TF.LayerVariable;
    constructor(args: { vocabSize: number; hiddenSize: number } & LayerArgs) {
      super(args);
      this.a = { vocabSize: args.vocabSize, hiddenSize: args.hiddenSize, randomInit: args.randomInit };
    }
    override build(): void {
      this.w = this.addWeight('weight', [this.a.hiddenSize, this.a.vocabSize], 'float32', init(this.a));
      this.built = true;
    }
    table(): TF.Tensor {
      return this.w.read();
    }
    lookup(ids: TF.Tensor): TF.Tensor {
      const idx = tf.cast(ids, 'int32');
      // Read now: the gradient may be asked for after this call's tensors are gone.
      const ix = idx.dataSync() as Int32Array;
      const [H, V] = [this.a.hiddenSize, this.a.vocabSize];
      const perm = [...ids.shape.map((_, i) => i + 1), 0];
      const f = tf.customGrad(((table: TF.Tensor) => ({
        value: tf.transpose(tf.gather(table, idx, 1), perm),
        // gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks: the
        // scatter-add of the looked-up columns' gradients is done here instead.
        gradFunc: (dy: TF.Tensor) => {
          const d = dy.dataSync() as Float32Array;
          const g = new Float32Array(H * V);
          for (let n = 0; n < ix.length; n++) for (let h = 0; h < H; h++) g[h * V + ix[n]] += d[n * H + h];
          return tf.tensor(g, [H, V]);
        },
      })) as unknown as Parameters<Tf['customGrad']>[0]) as unknown as (t: TF.Tensor) => TF.Tensor;
      return f(this.w.read());
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return [...(input as TF.Shape), this.a.hiddenSize];
    }
    override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
      return tf.tidy(() => this.lookup(Array.isArray(inputs) ? inputs[0] : inputs));
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.a };
    }
  }

  class Block extends tf.layers.Layer {
    static className = 'TunespecLlamaDecoderLayer';
    private readonly a: LlamaBlockArgs & { randomInit?: boolean };
    private w: Record<Exclude<keyof BlockWeights, 'frozen' | 'lora'>, TF.LayerVariable> = {} as never;
    private loraState?: BlockLora & { seed: number };
    private readonly savedLora?: SavedLora;
    constructor(args: LlamaBlockArgs & LayerArgs & { lora?: SavedLora }) {
      super(args);
      const { name: _n, trainable: _t, lora, ...rest } = args;
      this.a = rest;
      this.savedLora = lora;
    }
    get shape(): BlockShape & { ropeTheta: number } {
      return this.a;
    }
    override build(): void {
      const { hiddenSize: H, intermediateSize: I, numHeads, numKvHeads, headDim } = this.a;
      // [in, out]: the transpose of PyTorch's nn.Linear layout, see bert/ops.ts.
      const dense = (name: string, inDim: number, outDim: number) => this.addWeight(`${name}.weight`, [inDim, outDim], 'float32', init(this.a));
      this.w.inputNorm = this.addWeight('input_layernorm.weight', [H], 'float32', ones());
      this.w.q = dense('self_attn.q_proj', H, numHeads * headDim);
      this.w.k = dense('self_attn.k_proj', H, numKvHeads * headDim);
      this.w.v = dense('self_attn.v_proj', H, numKvHeads * headDim);
      this.w.o = dense('self_attn.o_proj', numHeads * headDim, H);
      this.w.postNorm = this.addWeight('post_attention_layernorm.weight', [H], 'float32', ones());
      this.w.gate = dense('mlp.gate_proj', H, I);
      this.w.up = dense('mlp.up_proj', H, I);
      this.w.down = dense('mlp.down_proj', I, H);
      // The values come with the saved weights.
      if (this.savedLora) this.addBranches({ ...this.savedLora, initA: (_, shape) => tf.zeros(shape) }, true);
      this.built = true;
    }
    blockWeights(): BlockWeights {
      const base = Object.values(this.w);
      const weights = Object.fromEntries(Object.entries(this.w).map(([k, v]) => [k, v.read()])) as unknown as BlockWeights;
      weights.frozen = !this.trainable || base.every((v) => !v.trainable);
      const l = this.loraState;
      if (l) weights.lora = Object.fromEntries([...l.branches].map(([k, { a, b }]) => [k, { a: a.read(), b: b.read(), scale: l.scale }]));
      return weights;
    }
    baseWeight(target: Projection): TF.LayerVariable {
      return this.w[target];
    }
    // The flag of a block with LoRA switches its LoRA weights; its base weights stay frozen (PEFT's rule).
    override get trainable(): boolean {
      return super.trainable;
    }
    override set trainable(value: boolean) {
      super.trainable = value;
      if (this.loraState) for (const v of Object.values(this.w)) v.trainable = false;
    }
    addLora(args: BlockLoraArgs): void {
      this.addBranches(args, false);
    }
    private addBranches(args: BlockLoraArgs, inBuild: boolean): void {
      if (this.loraState) throw new Error(`${this.name} already has LoRA weights`);
      const branches = new Map<Projection, { a: TF.LayerVariable; b: TF.LayerVariable }>();
      for (const target of args.targets) {
        const [inDim, outDim] = this.w[target].shape as number[];
        // Outside build() no name scope prefixes the layer's name: it is written in full.
        const add = (part: string, shape: [number, number], init: () => TF.Tensor) =>
          this.addWeight(`${inBuild ? '' : `${this.name}/`}${PROJECTIONS[target]}.${part}.weight`, shape, 'float32', { apply: init } as unknown as Parameters<TF.layers.Layer['addWeight']>[3], undefined, true);
        branches.set(target, {
          a: add('lora_A', [inDim, args.rank], () => args.initA(target, [inDim, args.rank])),
          b: add('lora_B', [args.rank, outDim], () => tf.zeros([args.rank, outDim])),
        });
      }
      this.loraState = { rank: args.rank, scale: args.scale, dropout: args.dropout, seed: args.seed, calls: 0, branches };
      this.trainable = inBuild ? this.trainable : true;
    }
    lora(): BlockLora | undefined {
      return this.loraState;
    }
    dropLora(): void {
      const l = this.loraState;
      if (!l) return;
      const gone = new Set([...l.branches.values()].flatMap(({ a, b }) => [a, b]));
      const self = this as unknown as { _trainableWeights: TF.LayerVariable[]; _addedWeightNames: string[] };
      self._trainableWeights = self._trainableWeights.filter((v) => !gone.has(v));
      const names = new Set([...gone].map((v) => v.originalName));
      self._addedWeightNames = self._addedWeightNames.filter((n) => !names.has(n));
      gone.forEach((v) => v.dispose());
      this.loraState = undefined;
      this.trainable = this.trainable; // the setter hands the flag to the base weights again
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return (Array.isArray(input[0]) ? input[0] : input) as TF.Shape;
    }
    override call(inputs: TF.Tensor | TF.Tensor[], kwargs?: { training?: boolean }): TF.Tensor {
      return tf.tidy(() => {
        const [x, mask] = inputs as TF.Tensor[];
        const T = x.shape[1]!;
        const rope = ropeTables(tf, positionsFromMask(tf, mask, T), this.a.headDim, this.a.ropeTheta);
        const l = this.loraState;
        const dropout = kwargs?.training === true && l && l.dropout > 0 ? (t: TF.Tensor) => tf.dropout(t, l.dropout, undefined, `${l.seed}:${this.name}:${l.calls++}`) : undefined;
        return decoderBlock(tf, this.blockWeights(), this.a, x, rope, attentionBias(tf, mask, T), undefined, dropout).out;
      });
    }
    override getConfig(): TF.serialization.ConfigDict {
      const l = this.loraState;
      const lora: SavedLora | undefined = l && { rank: l.rank, scale: l.scale, dropout: l.dropout, seed: l.seed, targets: [...l.branches.keys()] };
      return { ...super.getConfig(), ...this.a, ...(lora && { lora: lora as unknown as TF.serialization.ConfigDictValue }) };
    }
  }

  class Norm extends tf.layers.Layer {
    static className = 'TunespecLlamaRMSNorm';
    private readonly a: { hiddenSize: number; eps: number };
    private w!: TF.LayerVariable;
    constructor(args: { hiddenSize: number; eps: number } & LayerArgs) {
      super(args);
      this.a = { hiddenSize: args.hiddenSize, eps: args.eps };
    }
    override build(): void {
      this.w = this.addWeight('weight', [this.a.hiddenSize], 'float32', ones());
      this.built = true;
    }
    norm(x: TF.Tensor): TF.Tensor {
      return rmsNorm(tf, x, this.w.read(), this.a.eps);
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return input as TF.Shape;
    }
    override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
      return tf.tidy(() => this.norm(Array.isArray(inputs) ? inputs[0] : inputs));
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.a };
    }
  }

  class Head extends tf.layers.Layer {
    static className = 'TunespecLlamaLmHead';
    private readonly a: { vocabSize: number; hiddenSize: number; tied: boolean; randomInit?: boolean };
    private readonly tiedTo?: LlamaEmbeddingLayer;
    private w?: TF.LayerVariable;
    constructor(args: { vocabSize: number; hiddenSize: number; tiedTo?: LlamaEmbeddingLayer } & LayerArgs) {
      super(args);
      this.a = { vocabSize: args.vocabSize, hiddenSize: args.hiddenSize, tied: args.tiedTo !== undefined, randomInit: args.randomInit };
      this.tiedTo = args.tiedTo;
    }
    override build(): void {
      if (!this.tiedTo) this.w = this.addWeight('weight', [this.a.hiddenSize, this.a.vocabSize], 'float32', init(this.a));
      this.built = true;
    }
    logits(h: TF.Tensor): TF.Tensor {
      const frozen = this.w ? !this.trainable || !this.w.trainable : this.tiedTo!.trainableWeights.length === 0;
      return project(tf, h, this.w ? this.w.read() : this.tiedTo!.table(), frozen);
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return lastAxis(input, this.a.vocabSize);
    }
    override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
      return tf.tidy(() => this.logits(Array.isArray(inputs) ? inputs[0] : inputs));
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.a };
    }
  }

  for (const c of [Embedding, Block, Norm, Head]) tf.serialization.registerClass(c as unknown as TF.serialization.SerializableConstructor<TF.layers.Layer>);
  const made = { Embedding, Block, Norm, Head } as unknown as LlamaLayerClasses;
  classes.set(tf, made);
  return made;
}
