// Greedy decoding tokens/s of a Llama decoder in tunespec against llama.cpp on the same weights and
// cores (issue 16). Default: SmolLM2-135M-Instruct Q4_1 (npm run models:gpt). Usage:
//
//   npx tsx bench/generation.ts [--model MODEL.gguf] [--engines wasm,native] [--peers q4_1,f32]
//       [--threads 2[,1,2p]] [--prompt 32] [--new 128] [--rounds 3] [--python bench/.cache/venv-llamacpp/bin/python]
//
// Needs llama-cpp-python in a venv (see bench/README.md; it builds llama.cpp from source):
//   python3 -m venv bench/.cache/venv-llamacpp
//   CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAVA_BUILD=OFF" bench/.cache/venv-llamacpp/bin/pip install llama-cpp-python
//
// Peers: llama.cpp (n_threads = each of --threads; "2p": 2 threads with OMP_WAIT_POLICY=passive)
// on the .gguf as shipped (q4_1) and on F32 / F16 copies its own quantizer writes into
// bench/.cache/models/ (tunespec dequantises the file to float32, so f32 is the same arithmetic).
// Each round spawns one process per tunespec engine and one llama.cpp process per --threads entry
// (every peer in it), in reverse order every other round; each process loads, warms up
// (prompt + 4 tokens, untimed) and times one greedy run of --prompt tokens + --new tokens with the
// KV cache, prompt processing included. Medians over the rounds, with each process's CPU time (on a
// shared machine the wall time carries other processes' load); ratios against every peer of the
// same invocation. Raw results: bench/.cache/results/generation-<time>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { selectEngine, type EngineName } from '../src/engine/backends.ts';
import { readGguf } from '../src/model/gguf/read.ts';
import { ggufTokenizer } from '../src/model/gguf/tokenizer.ts';
import { decodeTokens } from '../src/model/families/llama/generate.ts';
import { loadLlama } from '../src/model/families/llama/load.ts';
import { median } from './lib/measure.ts';
import { optionValue } from './lib/args.ts';

const ROOT = join(import.meta.dirname, '..');
const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => optionValue(args, name, fallback);

/** One timed greedy run: whole run and prompt + first token, wall and process CPU seconds. */
interface Run {
  wall: number;
  cpu: number;
  firstWall: number;
  firstCpu: number;
  tokens: number[];
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function worker(engine: EngineName, model: string, prompt: number[], newTokens: number): Promise<void> {
  const { tf } = await selectEngine(engine, []);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const { model: llama, config } = await loadLlama(tf, model);
  const load = { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0 };
  // What `tunespec generate` runs (text-generator.ts), without the tokenizer and the event-loop turns.
  const greedy = (n: number): Run => {
    const w0 = performance.now();
    const c = cpuSeconds();
    const tokens: number[] = [];
    let firstWall = 0;
    let firstCpu = 0;
    for (const id of decodeTokens(tf, llama, config, prompt, { maxNewTokens: n, stop: [] })) {
      if (!tokens.length) {
        firstWall = (performance.now() - w0) / 1000;
        firstCpu = cpuSeconds() - c;
      }
      tokens.push(id);
    }
    return { wall: (performance.now() - w0) / 1000, cpu: cpuSeconds() - c, firstWall, firstCpu, tokens };
  };
  greedy(4);
  const run = greedy(newTokens);
  console.log(JSON.stringify({ engine, backend: tf.getBackend(), load, runs: [run] }));
  llama.dispose();
}

/** The first `n` tokens of a fixed English text, by the model's own tokenizer. */
async function promptIds(model: string, n: number): Promise<number[]> {
  const { tokenizerJson, tokenizerConfig } = ggufTokenizer(await readGguf(model));
  const tok = new Tokenizer(tokenizerJson as never, tokenizerConfig as never);
  const text =
    'The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined movable metal type, ' +
    'oil-based ink and a wooden press adapted from those used for wine. Within fifty years printers were at work in more than two hundred cities, ' +
    'and the price of a book fell so far that';
  const ids = tok.encode(text, { add_special_tokens: false }).ids;
  if (ids.length < n) throw new Error(`the fixed prompt is ${ids.length} tokens; --prompt ${n} wants more`);
  return ids.slice(0, n);
}

function spawnJson(cmd: string[], env: NodeJS.ProcessEnv = {}): { lines: Record<string, unknown>[]; wall: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...env } });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited with ${r.status}:\n${r.stderr.slice(-3000)}`);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, wall: (performance.now() - t0) / 1000 };
}

const PEER_FILE: Record<string, (model: string) => string> = {
  q4_1: (m) => m,
  f32: (m) => join(ROOT, 'bench', '.cache', 'models', basename(m).replace(/(\.[A-Za-z0-9_]+)?\.gguf$/i, '.F32.gguf')),
  f16: (m) => join(ROOT, 'bench', '.cache', 'models', basename(m).replace(/(\.[A-Za-z0-9_]+)?\.gguf$/i, '.F16.gguf')),
};

async function main(): Promise<void> {
  const model = opt('model', join(ROOT, '.cache', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf'));
  const newTokens = Number(opt('new', '128'));
  if (args.includes('--worker')) {
    await worker(opt('worker', 'wasm') as EngineName, model, opt('prompt-ids', '').split(',').map(Number), newTokens);
    return;
  }
  const engines = opt('engines', 'wasm,native').split(',').filter(Boolean) as EngineName[];
  const peers = opt('peers', 'q4_1,f32').split(',').filter(Boolean);
  // "2,1,2p": llama.cpp processes with n_threads 2, 1, and 2 under OMP_WAIT_POLICY=passive.
  const threadings = opt('threads', '2')
    .split(',')
    .filter(Boolean)
    .map((t) => ({ n: Number.parseInt(t, 10), passive: t.endsWith('p') }));
  const threads = threadings[0]!.n;
  const rounds = Number(opt('rounds', '3'));
  const python = opt('python', join(ROOT, 'bench', '.cache', 'venv-llamacpp', 'bin', 'python'));
  const driver = join(ROOT, 'bench', 'llamacpp_generate.py');
  for (const p of peers) if (!PEER_FILE[p]) throw new Error(`unknown peer ${p} (q4_1, f32, f16)`);
  if (peers.length && !existsSync(python)) throw new Error(`${python} is missing: install llama-cpp-python there (see bench/README.md) or pass --peers ''`);
  const peerFiles = peers.map((p) => PEER_FILE[p]!(model));
  for (const [i, p] of peers.entries()) {
    if (p === 'q4_1' || existsSync(peerFiles[i]!)) continue;
    mkdirSync(join(ROOT, 'bench', '.cache', 'models'), { recursive: true });
    console.error(`writing ${peerFiles[i]} with llama.cpp's quantizer (${p})`);
    spawnJson([python, driver, 'convert', model, peerFiles[i]!, '--type', p, '--threads', String(threads)]);
  }
  const prompt = await promptIds(model, Number(opt('prompt', '32')));
  const started = new Date();
  const loads: number[][] = [loadavg()];
  type Label = string;
  const runs = new Map<Label, Run[]>();
  const add = (label: Label, r: Run) => runs.set(label, [...(runs.get(label) ?? []), r]);
  let systemInfo = '';
  let llamaCppVersion = '';
  const jobs: (() => void)[] = [
    ...engines.map((engine) => () => {
      const { lines } = spawnJson([process.execPath, '--import', 'tsx', SELF, '--worker', engine, '--model', model, '--new', String(newTokens), '--prompt-ids', prompt.join(',')]);
      for (const l of lines) add(`tunespec ${engine}`, (l.runs as Run[])[0]!);
    }),
    ...(peers.length
      ? threadings.map(({ n, passive }) => () => {
          const cmd = [python, driver, 'generate', ...peerFiles.flatMap((f) => ['--model', f]), '--prompt-ids', prompt.join(','), '--new', String(newTokens), '--threads', String(n)];
          const env = passive ? { OMP_WAIT_POLICY: 'passive' } : {};
          const { lines } = spawnJson(cmd, env);
          lines.forEach((l, i) => {
            systemInfo = String(l.systemInfo);
            llamaCppVersion = String(l.llamaCppPython);
            add(`llama.cpp ${peers[i]}, ${n} thread${n > 1 ? 's' : ''}${passive ? ', passive wait' : ''}`, (l.runs as Run[])[0]!);
          });
        })
      : []),
  ];
  for (let r = 0; r < rounds; r++) {
    for (const job of r % 2 ? [...jobs].reverse() : jobs) job();
    loads.push(loadavg());
    console.error(`round ${r + 1}/${rounds} done, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  }
  const finished = new Date();

  const summary = [...runs].map(([label, rs]) => {
    const wall = median(rs.map((x) => x.wall));
    const cpu = median(rs.map((x) => x.cpu));
    return {
      label,
      runs: rs.length,
      wall,
      cpu,
      tokensPerSecond: newTokens / wall,
      // The least disturbed run: on a shared machine other processes only ever slow a run down.
      bestTokensPerSecond: newTokens / Math.min(...rs.map((x) => x.wall)),
      tokensPerCpuSecond: newTokens / cpu,
      firstWall: median(rs.map((x) => x.firstWall)),
      firstCpu: median(rs.map((x) => x.firstCpu)),
      // The new tokens after the first, each a one-token step against the cache.
      stepTokensPerSecond: (newTokens - 1) / median(rs.map((x) => x.wall - x.firstWall)),
      stepTokensPerCpuSecond: (newTokens - 1) / median(rs.map((x) => x.cpu - x.firstCpu)),
      tokens: rs[0]!.tokens,
    };
  });
  const f = (x: number, d = 1) => x.toFixed(d);
  const out: string[] = [];
  out.push(
    `Measured ${started.toISOString().slice(0, 16).replace('T', ' ')} to ${finished.toISOString().slice(11, 16)} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim()}); ` +
      `load average (1 min) ${Math.min(...loads.map((l) => l[0]!)).toFixed(1)}–${Math.max(...loads.map((l) => l[0]!)).toFixed(1)} during the runs. ` +
      `${basename(model)}, prompt ${prompt.length} tokens, ${newTokens} new, greedy, KV cache; llama.cpp n_threads ${opt('threads', '2')} (p: OMP_WAIT_POLICY=passive); median of ${rounds} rounds.`,
    '',
    '| decoder | runs | tokens/s (wall) | best run, tokens/s | tokens / CPU s | prompt + 1st token, wall / CPU | step tokens/s (wall) | step tokens / CPU s |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const s of summary) {
    out.push(`| ${s.label} | ${s.runs} | ${f(s.tokensPerSecond)} | ${f(s.bestTokensPerSecond)} | ${f(s.tokensPerCpuSecond)} | ${f(s.firstWall * 1000, 0)} / ${f(s.firstCpu * 1000, 0)} ms | ${f(s.stepTokensPerSecond)} | ${f(s.stepTokensPerCpuSecond)} |`);
  }
  const ts = summary.filter((s) => s.label.startsWith('tunespec'));
  const lc = summary.filter((s) => s.label.startsWith('llama.cpp'));
  if (ts.length && lc.length) {
    out.push('', 'tunespec / llama.cpp, tokens/s (wall; per CPU second); above 1 tunespec is faster:', '');
    out.push(`| llama.cpp | ${ts.map((t) => t.label).join(' | ')} |`, `|---|${ts.map(() => '---').join('|')}|`);
    for (const p of lc) out.push(`| ${p.label.replace(/^llama\.cpp /, '')} | ${ts.map((t) => `${f(t.tokensPerSecond / p.tokensPerSecond, 2)}; ${f(t.tokensPerCpuSecond / p.tokensPerCpuSecond, 2)}`).join(' | ')} |`);
    const common = (a: number[], b: number[]) => {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i++;
      return i;
    };
    const first = lc.filter((p) => p.label.endsWith(lc[0]!.label.slice(lc[0]!.label.indexOf(','))));
    out.push('', `Greedy tokens equal to llama.cpp's before the first difference (of ${newTokens}): ${ts.flatMap((t) => first.map((p) => `${t.label} vs ${p.label}: ${common(t.tokens, p.tokens)}`)).join('; ')}.`);
  }
  if (systemInfo) out.push('', `llama-cpp-python ${llamaCppVersion}; ${systemInfo.trim()}`);
  const report = out.join('\n');
  console.log(report);
  const dir = join(ROOT, 'bench', '.cache', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `generation-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ started, finished, model, prompt, newTokens, threads: threadings, rounds, loads, summary, runs: Object.fromEntries(runs), systemInfo, llamaCppVersion, report }, null, 2)}\n`);
  console.error(`raw results: ${file}`);
}

await main();
