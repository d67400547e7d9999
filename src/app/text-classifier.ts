import { stat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { packTokens } from '../data/token-input.ts';
import { loadTokenizer } from '../data/tokenize.ts';
import { InputError } from '../errors.ts';
import { resolveVariant } from '../track/resolve-variant.ts';
import { loadTfjsModel } from './variant-predictor.ts';
import { ModelNotFoundError } from './resolve-model.ts';
import { variantTokenizerFolder } from './text-input.ts';

export interface Classification {
  /** The most probable class. */
  label: string;
  /** Every class's probability, by class name. */
  probabilities: Record<string, number>;
}

/** A stored text classification variant, loaded to classify texts as `predict` does. */
export interface TextClassifier {
  name: string;
  engine: string;
  /** Its weight files' size: float32 weights take that much memory once loaded. */
  bytes: number;
  classNames: string[];
  /** Whether it reads text pairs ([text, pair] per input), as its spec's text_pair_column says. */
  pairs: boolean;
  /** Texts, or [text, pair] for a pair variant; a wrong kind is an InputError naming the input. */
  classify(inputs: readonly (string | readonly string[])[]): Promise<Classification[]>;
  dispose(): void;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/**
 * A completed text classification variant by id, from the run store only (never a path: an HTTP
 * client names models, not files). Texts go through the variant's own tokenizer and max_length.
 */
export async function loadTextClassifier(variantId: string, runsDir: string): Promise<TextClassifier> {
  if (!/^[0-9a-f]{12}$/.test(variantId)) throw new ModelNotFoundError(variantId, `${variantId} is not a variant id (12 hex digits) of a completed text classification variant in ${runsDir}`);
  const variant = await resolveVariant(variantId, { runsDir }).catch((err: Error) => {
    throw new ModelNotFoundError(variantId, err.message);
  });
  const data = variant.spec.data;
  if (data.format !== 'text') throw new InputError(`variant ${variantId} classifies ${data.format} data, not text: use \`tunespec predict\``);
  const predictor = await loadTfjsModel(variant);
  const tokenizer = await loadTokenizer(await variantTokenizerFolder(variant));
  const pairs = data.text_pair_column !== undefined;
  // tfjs names layers uniquely per process: a model loaded after another with an `input_ids` input
  // gets `input_ids_1`. The tokenizer's rows go by the name the model was saved with.
  const inputNames = predictor.inputNames.map((n) => n.replace(/_\d+$/, ''));
  return {
    name: variantId,
    engine: predictor.engine,
    bytes: await folderBytes(dirname(variant.modelJson)),
    classNames: predictor.classNames,
    pairs,
    classify: async (inputs) => {
      const texts: string[] = [];
      const second: string[] = [];
      inputs.forEach((x, i) => {
        const ok = pairs ? Array.isArray(x) && x.length === 2 && x.every((t) => typeof t === 'string') : typeof x === 'string';
        if (!ok) throw new InputError(`input[${i}] must be ${pairs ? 'a [text, pair] array of two strings: the variant classifies text pairs' : 'a string'}`);
        texts.push(pairs ? x[0]! : (x as string));
        if (pairs) second.push(x[1]!);
      });
      const probs = await predictor.predict(packTokens(tokenizer, texts, pairs ? second : undefined, data.max_length, inputNames), texts.length);
      return probs.map((p) => {
        let best = 0;
        for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
        return { label: predictor.classNames[best]!, probabilities: Object.fromEntries(predictor.classNames.map((n, c) => [n, p[c]!])) };
      });
    },
    dispose: () => void predictor.dispose(),
  };
}
