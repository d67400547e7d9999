import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../../engine/backends.ts';
import { ModelError } from '../../../errors.ts';
import { BERT_LAYER_CLASSES } from './layer-list.ts';
import { blockNaming, type NamingStyle } from './naming.ts';
import { dropout, gelu, keyBias, layerNorm, linear, selfAttention } from './ops.ts';

/**
 * BERT's layers as serialisable TensorFlow.js layers. Each owns its weights under the Hugging Face
 * parameter names relative to the layer (the layer "encoder.layer.0" holds
 * "attention.self.query.weight"), so a weight's full HF name is its layer's name, a dot, and its
 * own. A block holds its attention weights itself rather than in a nested layer: tfjs-layers does
 * not track a nested layer's weights, and one owner keeps freezing and naming exact.
 */
export interface BertEmbeddingsArgs {
  vocabSize: number;
  hiddenSize: number;
  maxPositions: number;
  /** 0: no token type table (DistilBERT). */
  typeVocabSize: number;
  layerNormEps: number;
  hiddenDropout: number;
  /** The position row of the first token (RoBERTa: padding_idx + 1); 0 when absent (BERT). */
  positionOffset?: number;
  /** Whether token_type_ids come in (BERT); without, every token adds type row 0 (RoBERTa). True when absent. */
  tokenTypes?: boolean;
}

export interface BertBlockArgs {
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  /** The checkpoint's names for the block's parts (naming.ts); BERT's when absent. */
  naming?: NamingStyle;
}

export interface BertLayerClasses {
  Embeddings: new (args: BertEmbeddingsArgs & { name: string; trainable?: boolean }) => TF.layers.Layer;
  Block: new (args: BertBlockArgs & { name: string; trainable?: boolean }) => TF.layers.Layer;
  Pooler: new (args: { hiddenSize: number; name: string; trainable?: boolean }) => TF.layers.Layer;
}

const classes = new WeakMap<Tf, BertLayerClasses>();

type Kwargs = { training?: boolean };
type LayerArgs = { name?: string; trainable?: boolean };

/** The layer classes for this tf namespace, defined and registered for deserialisation once. */
export function bertLayerClasses(tf: Tf): BertLayerClasses {
  const known = classes.get(tf);
  if (known) return known;
  const zeros = () => tf.initializers.zeros();
  const ones = () => tf.initializers.ones();
  const normal = () => tf.initializers.truncatedNormal({ stddev: 0.02 });

  class Embeddings extends tf.layers.Layer {
    static className = BERT_LAYER_CLASSES.embeddings;
    private readonly a: BertEmbeddingsArgs;
    private w: Record<string, TF.LayerVariable> = {};
    constructor(args: BertEmbeddingsArgs & LayerArgs) {
      super(args);
      this.a = { ...args };
    }
    override build(): void {
      const { vocabSize: V, hiddenSize: H, maxPositions: P, typeVocabSize: T } = this.a;
      this.w.word = this.addWeight('word_embeddings.weight', [V, H], 'float32', normal());
      this.w.position = this.addWeight('position_embeddings.weight', [P, H], 'float32', normal());
      if (T > 0) this.w.type = this.addWeight('token_type_embeddings.weight', [T, H], 'float32', normal());
      this.w.gamma = this.addWeight('LayerNorm.weight', [H], 'float32', ones());
      this.w.beta = this.addWeight('LayerNorm.bias', [H], 'float32', zeros());
      this.built = true;
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      const ids = (Array.isArray(input[0]) ? input[0] : input) as TF.Shape;
      return [ids[0], ids[1], this.a.hiddenSize];
    }
    override call(inputs: TF.Tensor | TF.Tensor[], kwargs: Kwargs): TF.Tensor {
      return tf.tidy(() => {
        const [ids, types] = Array.isArray(inputs) ? inputs : [inputs];
        const T = ids.shape[1]!;
        const offset = this.a.positionOffset ?? 0;
        if (T + offset > this.a.maxPositions) {
          const reach = offset ? `the ${this.a.maxPositions - offset} positions that max_position_embeddings (${this.a.maxPositions}) leaves after padding_idx` : `max_position_embeddings (${this.a.maxPositions})`;
          throw new ModelError(`${this.name}: a sequence of ${T} tokens is longer than ${reach}; truncate it (max_length)`);
        }
        const words = tf.gather(this.w.word.read(), tf.cast(ids, 'int32'));
        // RoBERTa numbers real tokens from padding_idx + 1; padding, which no real token attends to,
        // takes the next rows rather than RoBERTa's padding row, which changes no real token's output.
        const positions = tf.slice(this.w.position.read(), [offset, 0], [T, -1]);
        let sum = tf.add(words, positions);
        if (this.w.type) {
          const typeRows = types && this.a.tokenTypes !== false ? tf.gather(this.w.type.read(), tf.cast(types, 'int32')) : tf.slice(this.w.type.read(), [0, 0], [1, -1]);
          sum = tf.add(sum, typeRows);
        }
        const x = layerNorm(tf, sum, this.w.gamma.read(), this.w.beta.read(), this.a.layerNormEps);
        return dropout(tf, x, this.a.hiddenDropout, kwargs?.training === true);
      });
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.a };
    }
  }

  class Block extends tf.layers.Layer {
    static className = BERT_LAYER_CLASSES.block;
    private readonly a: BertBlockArgs;
    private w: Record<string, TF.LayerVariable> = {};
    constructor(args: BertBlockArgs & LayerArgs) {
      super(args);
      this.a = { ...args };
    }
    private dense(key: string, prefix: string, inDim: number, outDim: number): void {
      // [in, out]: the transpose of PyTorch's nn.Linear layout, see ops.ts.
      this.w[`${key}W`] = this.addWeight(`${prefix}.weight`, [inDim, outDim], 'float32', normal());
      this.w[`${key}B`] = this.addWeight(`${prefix}.bias`, [outDim], 'float32', zeros());
    }
    private norm(key: string, prefix: string): void {
      this.w[`${key}G`] = this.addWeight(`${prefix}.weight`, [this.a.hiddenSize], 'float32', ones());
      this.w[`${key}B`] = this.addWeight(`${prefix}.bias`, [this.a.hiddenSize], 'float32', zeros());
    }
    override build(): void {
      const { hiddenSize: H, intermediateSize: I } = this.a;
      const n = blockNaming(this.a.naming);
      this.dense('q', n.query, H, H);
      this.dense('k', n.key, H, H);
      this.dense('v', n.value, H, H);
      this.dense('ao', n.attentionOutput, H, H);
      this.norm('aln', n.attentionNorm);
      this.dense('i', n.intermediate, H, I);
      this.dense('o', n.output, I, H);
      this.norm('oln', n.outputNorm);
      this.built = true;
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return (Array.isArray(input[0]) ? input[0] : input) as TF.Shape;
    }
    override call(inputs: TF.Tensor | TF.Tensor[], kwargs: Kwargs): TF.Tensor {
      return tf.tidy(() => {
        const [x, mask] = inputs as TF.Tensor[];
        const w = (k: string) => this.w[k].read();
        const training = kwargs?.training === true;
        const { layerNormEps: eps, hiddenDropout: pDrop } = this.a;
        const q = linear(tf, x, w('qW'), w('qB'));
        const k = linear(tf, x, w('kW'), w('kB'));
        const v = linear(tf, x, w('vW'), w('vB'));
        const ctx = selfAttention(tf, q, k, v, keyBias(tf, mask), this.a.numHeads, this.a.attentionDropout, training);
        const attnOut = dropout(tf, linear(tf, ctx, w('aoW'), w('aoB')), pDrop, training);
        const h = layerNorm(tf, tf.add(attnOut, x), w('alnG'), w('alnB'), eps);
        const inter = gelu(tf, linear(tf, h, w('iW'), w('iB')));
        const out = dropout(tf, linear(tf, inter, w('oW'), w('oB')), pDrop, training);
        return layerNorm(tf, tf.add(out, h), w('olnG'), w('olnB'), eps);
      });
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), ...this.a };
    }
  }

  class Pooler extends tf.layers.Layer {
    static className = BERT_LAYER_CLASSES.pooler;
    private readonly hiddenSize: number;
    private w: Record<string, TF.LayerVariable> = {};
    constructor(args: { hiddenSize: number } & LayerArgs) {
      super(args);
      this.hiddenSize = args.hiddenSize;
    }
    override build(): void {
      const H = this.hiddenSize;
      this.w.W = this.addWeight('dense.weight', [H, H], 'float32', normal());
      this.w.B = this.addWeight('dense.bias', [H], 'float32', zeros());
      this.built = true;
    }
    override computeOutputShape(input: TF.Shape | TF.Shape[]): TF.Shape {
      return [(input as TF.Shape)[0], this.hiddenSize];
    }
    override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? inputs[0] : inputs;
        const first = tf.squeeze(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [1]);
        return tf.tanh(linear(tf, first, this.w.W.read(), this.w.B.read()));
      });
    }
    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), hiddenSize: this.hiddenSize };
    }
  }

  for (const c of [Embeddings, Block, Pooler]) tf.serialization.registerClass(c as unknown as TF.serialization.SerializableConstructor<TF.layers.Layer>);
  const made = { Embeddings, Block, Pooler } as unknown as BertLayerClasses;
  classes.set(tf, made);
  return made;
}
