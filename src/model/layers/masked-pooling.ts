import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../engine/backends.ts';

// Sentence vector from a text encoder's last hidden states [batch, tokens, width] and its attention
// mask [batch, tokens]: the first token (`cls`, BERT's [CLS]), or the mean or maximum over the
// real tokens, as sentence-transformers pools. Padding is selected away with `where`, never
// multiplied by zero, so whatever a padded position holds (even NaN) cannot reach the result.

export type PoolingMode = 'cls' | 'mean' | 'max';

export const POOLING_CLASS = 'TunespecMaskedPooling';

export interface MaskedPoolingArgs {
  mode: PoolingMode;
  name?: string;
}

type Shape = (number | null)[];

/** The serialisable layer class of one tfjs instance (each engine may load its own), registered once. */
const classes = new WeakMap<object, new (args: MaskedPoolingArgs) => TF.layers.Layer>();

function poolingClass(tf: Tf): new (args: MaskedPoolingArgs) => TF.layers.Layer {
  const known = classes.get(tf);
  if (known) return known;

  class MaskedPooling extends tf.layers.Layer {
    static className = POOLING_CLASS;
    readonly mode: PoolingMode;

    constructor(args: MaskedPoolingArgs) {
      super({ name: args.name });
      if (!['cls', 'mean', 'max'].includes(args.mode)) throw new Error(`pooling mode must be cls, mean or max; got ${JSON.stringify(args.mode)}`);
      this.mode = args.mode;
    }

    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const [hidden, mask] = inputShape as Shape[];
      if (hidden?.length !== 3 || mask?.length !== 2) {
        throw new Error(`pooling takes [hidden states of shape [batch, tokens, width], attention mask of shape [batch, tokens]]; got ${JSON.stringify(inputShape)}`);
      }
      return [hidden[0]!, hidden[2]!];
    }

    override call(inputs: TF.Tensor | TF.Tensor[]): TF.Tensor {
      return tf.tidy(() => {
        const [hidden, mask] = inputs as [TF.Tensor3D, TF.Tensor2D];
        if (this.mode === 'cls') return tf.squeeze(tf.slice(hidden, [0, 0, 0], [-1, 1, -1]), [1]);
        const real = tf.broadcastTo(tf.expandDims(tf.greater(mask, 0), 2), hidden.shape);
        if (this.mode === 'max') return tf.max(tf.where(real, hidden, tf.fill(hidden.shape, -1e9)), 1);
        const sum = tf.sum(tf.where(real, hidden, tf.zerosLike(hidden)), 1);
        // As sentence-transformers: an all-padding row gives zeros, not NaN.
        const count = tf.maximum(tf.sum(tf.cast(tf.greater(mask, 0), 'float32'), 1, true), 1e-9);
        return tf.div(sum, count);
      });
    }

    override getConfig(): TF.serialization.ConfigDict {
      return { ...super.getConfig(), mode: this.mode };
    }
  }

  tf.serialization.registerClass(MaskedPooling);
  classes.set(tf, MaskedPooling);
  return MaskedPooling;
}

/** A `pooling` head layer; apply it to [hidden states, attention mask]. */
export function maskedPooling(tf: Tf, args: MaskedPoolingArgs): TF.layers.Layer {
  return new (poolingClass(tf))(args);
}

/** Registers the class with `tf`, so a saved model holding the layer loads. */
export function registerMaskedPooling(tf: Tf): void {
  poolingClass(tf);
}
