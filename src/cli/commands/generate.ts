import { UsageError } from '../../errors.ts';
import { resolveModel } from '../../app/resolve-model.ts';
import { loadTextGenerator } from '../../app/text-generator.ts';
import type { Sampling } from '../../model/families/llama/sample.ts';
import type { Io } from '../io.ts';

export interface GenerateOptions {
  runsDir: string;
  spec?: string;
  chat: boolean;
  temperature: string;
  topP: string;
  topK: string;
  maxTokens: string;
  stop: string[];
  seed?: string;
}

function number(flag: string, raw: string, ok: (n: number) => boolean, what: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`--${flag} must be ${what}; got "${raw}"`);
  return n;
}

/** The command line's sampling settings, checked. */
export function samplingOf(o: GenerateOptions): { sampling: Sampling; maxTokens: number } {
  const int = (n: number) => Number.isInteger(n);
  const sampling: Sampling = {
    temperature: number('temperature', o.temperature, (n) => n >= 0, 'a number ≥ 0'),
    topP: number('top-p', o.topP, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    topK: number('top-k', o.topK, (n) => int(n) && n >= 0, 'an integer ≥ 0'),
    seed: o.seed === undefined ? undefined : number('seed', o.seed, (n) => int(n) && n >= 0 && n <= 0xffffffff, 'an integer from 0 to 4294967295'),
  };
  return { sampling, maxTokens: number('max-tokens', o.maxTokens, (n) => int(n) && n >= 1, 'an integer ≥ 1') };
}

/** `tunespec generate <model> <prompt>`: the completion streamed to stdout, what it took to stderr. */
export async function generateCommand(target: string, prompt: string, opts: GenerateOptions, io: Io): Promise<number> {
  const { sampling, maxTokens } = samplingOf(opts);
  const ref = await resolveModel(target, { runsDir: opts.runsDir, spec: opts.spec, allowPaths: true });
  const generator = await loadTextGenerator(ref);
  try {
    io.err(`generate: ${ref.name}${ref.kind === 'path' ? '' : ` (${ref.source})`}, engine ${generator.engine}`);
    const write = io.write ?? ((t: string) => io.out(t));
    const r = await generator.generate({
      prompt: opts.chat ? [{ role: 'user', content: prompt }] : prompt,
      maxTokens,
      sampling,
      stop: opts.stop,
      onText: write,
    });
    write('\n');
    const why = r.finishReason === 'stop' ? 'stop' : r.completionTokens >= maxTokens ? 'length (--max-tokens)' : "length (the model's context)";
    io.err(
      `generate: ${r.completionTokens} token${r.completionTokens === 1 ? '' : 's'} in ${r.seconds.toFixed(2)} s (${(r.completionTokens / r.seconds).toFixed(1)} tokens/s, the ${r.promptTokens}-token prompt included); finish: ${why}`,
    );
    return 0;
  } finally {
    generator.dispose();
  }
}
