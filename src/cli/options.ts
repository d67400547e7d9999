import { ENGINE_ORDER } from '../engine/backends.ts';

/**
 * Every command and every option of the CLI, declared once. Parsing, `--help` (whole and per
 * command), the README's CLI reference and shell completion are all generated from these two
 * tables; an option a command does not list is a usage error.
 */

export interface CommandSpec {
  /** Operands as the usage line shows them. */
  args: string;
  summary: string;
  /** What the shell completes for an operand: files (the default), nothing, or these words. */
  operands?: 'files' | 'none' | readonly string[];
  /** Printed under the command's options in its help. */
  note?: string;
}

const VARIANT_NOTE = '<variant> is a variant id, a stored variant\'s folder or model.json, or `best` (with --spec).';
const REGISTERED_NOTE = `${VARIANT_NOTE} Also a registered model version: models:/NAME/VERSION or models:/NAME@ALIAS (from the MLflow server of --tracking-uri or MLFLOW_TRACKING_URI; downloaded once into TUNESPEC_CACHE_DIR/registry).`;

const GENERATION_MODEL_NOTE =
  '<model> is a fine-tuned model name (ft:<base>:<experiment>:<variant>), a variant id (or a unique prefix of one), `best` (with --spec), a base model name from the run store, or a path to a Hugging Face model folder or a .gguf file.';

export const COMMANDS = {
  validate: { args: '<spec...>', summary: 'check specs, every file: schema errors, then (once the schema passes) base model and data errors, as file:line:col: message' },
  plan: { args: '<spec>', summary: "show the built model's layers (frozen/trainable) and the variants; with --emit, print an array job instead" },
  run: { args: '<spec>', summary: 'train every variant of the sweep into the run store (and MLflow)' },
  runs: { args: '<spec>', summary: 'compare stored variants of the spec, best first; name the best' },
  sync: { args: '<spec|run-folder>', summary: 'upload to MLflow what it lacks of stored sweeps (idempotent)' },
  inspect: { args: '<model|spec>', summary: 'layers, shapes, parameters of a model.json (path or URL), an .onnx file, a Hugging Face folder (path or hf://org/name), a GGUF file, or of the model a spec builds (cut, head, frozen/trainable)' },
  predict: { args: '<variant> <inputs...>', summary: "class probabilities for images, image folders, IDX or CSV files, with the variant's own preprocessing; for a text variant, texts or CSV/TSV/JSONL files, with its own tokenizer", note: REGISTERED_NOTE },
  evaluate: {
    args: '<variant> <data...>',
    summary: "held-out metrics on other data: IDX images + labels, an image folder, a CSV file, or a text file for a text variant (logged to the variant's MLflow run)",
    note: REGISTERED_NOTE,
  },
  register: {
    args: '<variant> --name <name>',
    summary: "a variant's MLflow logged model as a new version of a registered model in MLflow's Model Registry (once per trained variant: registering it again gives back its version)",
    note: VARIANT_NOTE,
  },
  generate: {
    args: '<model> <prompt>',
    summary: 'complete a prompt (or, with --chat, answer it as a user message) with a generation model, streaming the text to stdout; tokens and tokens/s to stderr',
    note: GENERATION_MODEL_NOTE,
  },
  serve: {
    args: '',
    summary: 'an OpenAI-compatible HTTP server: GET /v1/models, POST /v1/completions and /v1/chat/completions (streaming or not) for every base model and fine-tuned variant of the run store; POST /v1/classifications for text classification variants',
    operands: 'none',
    note: 'A bearer key (--api-key or TUNESPEC_API_KEY) is required of every request when set. Loaded models are kept, least recently used first out, within --max-models-memory. Stops on Ctrl-C or SIGTERM.',
  },
  cache: { args: '[list|clear]', summary: "what the frozen-feature cache and plan's caches hold, or empty them", operands: ['list', 'clear'] },
  worker: { args: '--queue <url>', summary: 'train queued variants, one per process at a time, until stopped', operands: 'none' },
  status: { args: '<spec> --queue <url>', summary: 'watch a queued sweep until every variant has settled' },
  doctor: { args: '', summary: 'show which engines load here, which one auto picks, and where MLflow tracking goes from this shell', operands: 'none' },
  completion: { args: '<bash|zsh>', summary: 'print a shell completion script (bash: `source <(tunespec completion bash)`)', operands: ['bash', 'zsh'] },
  help: { args: '[command]', summary: "this text, or a command's usage and options (as `tunespec <command> --help`)", operands: [] },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMANDS;
export const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in help (string options). */
  value?: string;
  /** The only values accepted; checked while parsing, and offered by completion. */
  choices?: readonly string[];
  /** May be given more than once; the values arrive as a list (empty when absent). */
  multiple?: true;
  short?: string;
  default?: string | boolean;
  /** Shown instead of `default` when the default needs words. */
  defaultText?: string;
  description: string;
  /** The commands that take the option, or every one. */
  commands: readonly CommandName[] | 'every';
  /** In these commands the option only applies together with another one (`--detach` with `--queue`). */
  needs?: Partial<Record<CommandName, string>>;
  /** What the shell completes for the value. */
  completes?: 'files' | 'dirs';
}

export const OPTIONS = {
  only: { type: 'string', value: '<variant-id>', multiple: true, description: 'run only this variant (repeatable)', commands: ['run'] },
  index: {
    type: 'string',
    value: '<n>',
    description: 'run only variant n of the plan (array jobs pass "$SLURM_ARRAY_TASK_ID" or "$JOB_COMPLETION_INDEX")',
    commands: ['run'],
  },
  force: { type: 'boolean', default: false, description: 'retrain variants that already completed', commands: ['run'] },
  restart: {
    type: 'boolean',
    default: false,
    description: 'train interrupted variants from scratch, removing their checkpoints, instead of resuming them where they stopped',
    commands: ['run'],
  },
  'no-feature-cache': {
    type: 'boolean',
    default: false,
    description: 'compute no features once and cache nothing: the frozen layers run on onnxruntime for each batch (end to end in tfjs where they do not export)',
    commands: ['run', 'plan'],
  },
  'no-estimate': {
    type: 'boolean',
    default: false,
    description: 'leave out the engine and estimated-time columns (no engine is loaded and no training step is measured)',
    commands: ['plan'],
  },
  backend: {
    type: 'string',
    value: '<engine>',
    choices: ['auto', ...ENGINE_ORDER],
    default: 'auto',
    defaultText: 'auto: native TensorFlow when it loads, else wasm when it has every kernel, else cpu',
    description: 'engine to train on',
    commands: ['run', 'worker', 'plan'],
  },
  'runs-dir': { type: 'string', value: '<dir>', default: 'runs', description: 'run store root (each worker has its own)', commands: ['run', 'runs', 'sync', 'predict', 'evaluate', 'register', 'worker', 'plan', 'generate', 'serve'], needs: { plan: 'emit' }, completes: 'dirs' },
  queue: {
    type: 'string',
    value: '<redis://host:port[/db]>',
    description: 'the Redis queue: run queues one job per variant there for workers instead of training here, then watches them (Ctrl-C stops watching, not the sweep); worker takes jobs from it; status watches it',
    commands: ['run', 'worker', 'status'],
  },
  detach: { type: 'boolean', default: false, description: 'queue and return at once', commands: ['run'], needs: { run: 'queue' } },
  attempts: { type: 'string', value: '<n>', default: '3', description: 'tries per variant in the queue or per k8s index', commands: ['run', 'plan'], needs: { run: 'queue', plan: 'emit' } },
  backoff: { type: 'string', value: '<seconds>', default: '10', description: 'pause before a queued retry, doubling each time', commands: ['run'], needs: { run: 'queue' } },
  'tracking-uri': {
    type: 'string',
    value: '<http(s)://host:port>',
    description: "MLflow server; beats the spec's tracking.uri, which beats MLFLOW_TRACKING_URI. Without any of the three, runs stay local.",
    commands: ['run', 'runs', 'sync', 'predict', 'evaluate', 'register', 'worker', 'status', 'doctor'],
  },
  concurrency: { type: 'string', value: '<n>', default: '1', description: 'worker processes to start, one variant each', commands: ['worker'] },
  name: {
    type: 'string',
    value: '<name>',
    defaultText: 'worker: <host>-<pid>',
    description: "worker: shown in its output and as the tunespec.worker tag of its MLflow runs; register: the registered model in MLflow's Model Registry (required)",
    commands: ['worker', 'register'],
  },
  'lock-duration': { type: 'string', value: '<seconds>', default: '30', description: "a job's lock without renewal: the job of a worker that died is retried after it", commands: ['worker'] },
  'stalled-interval': { type: 'string', value: '<seconds>', default: '30', description: 'how often to look for such jobs', commands: ['worker'] },
  emit: { type: 'string', value: '<target>', choices: ['slurm', 'k8s'], description: 'print an array job instead of the plan: task or index n runs variant n', commands: ['plan'] },
  gpus: { type: 'string', value: '<n>', default: '1', description: 'GPUs per variant (0 for none)', commands: ['plan'], needs: { plan: 'emit' } },
  cpus: { type: 'string', value: '<n>', description: 'CPUs per variant', commands: ['plan'], needs: { plan: 'emit' } },
  memory: { type: 'string', value: '<size>', defaultText: 'slurm: 16G; k8s: 16Gi', description: 'memory per variant', commands: ['plan'], needs: { plan: 'emit' } },
  time: { type: 'string', value: '<limit>', description: 'slurm: time limit', commands: ['plan'], needs: { plan: 'emit' } },
  partition: { type: 'string', value: '<p>', description: 'slurm: partition', commands: ['plan'], needs: { plan: 'emit' } },
  image: { type: 'string', value: '<image>', description: 'k8s: a container image with tunespec (required)', commands: ['plan'], needs: { plan: 'emit' } },
  'mlflow-secret': { type: 'string', value: '<name>', description: 'k8s: Secret holding the MLFLOW_* variables (envFrom)', commands: ['plan'], needs: { plan: 'emit' } },
  parallelism: { type: 'string', value: '<n>', defaultText: 'every variant', description: 'k8s: pods at once', commands: ['plan'], needs: { plan: 'emit' } },
  pvc: { type: 'string', value: '<claim>', description: 'k8s: volume with the spec, model and data', commands: ['plan'], needs: { plan: 'emit' } },
  workdir: { type: 'string', value: '<dir>', defaultText: '/workspace', description: 'k8s: where the volume is mounted', commands: ['plan'], needs: { plan: 'emit' } },
  spec: { type: 'string', value: '<spec>', description: 'the spec whose best variant `best` means', commands: ['predict', 'evaluate', 'register', 'generate'], completes: 'files' },
  chat: { type: 'boolean', default: false, description: "send the prompt as a user message through the model's chat template, and answer as the assistant", commands: ['generate'] },
  temperature: { type: 'string', value: '<t>', default: '0', description: 'sampling temperature; 0 is greedy (the same text every time)', commands: ['generate'] },
  'top-p': { type: 'string', value: '<p>', default: '1', description: 'nucleus sampling: draw from the most likely tokens whose probabilities add up to p', commands: ['generate'] },
  'top-k': { type: 'string', value: '<k>', default: '0', description: 'draw from the k most likely tokens only (0: all)', commands: ['generate'] },
  'max-tokens': { type: 'string', value: '<n>', default: '256', description: 'new tokens at most (fewer at an end token, a stop string or the end of the context)', commands: ['generate'] },
  stop: { type: 'string', value: '<text>', multiple: true, description: 'end the answer before this text (repeatable; not printed)', commands: ['generate'] },
  seed: { type: 'string', value: '<n>', defaultText: 'random', description: 'seed of the sampler: the same seed gives the same text', commands: ['generate'] },
  host: { type: 'string', value: '<address>', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for every interface; then set --api-key)', commands: ['serve'] },
  port: { type: 'string', value: '<port>', default: '8000', description: 'port to listen on (0: any free port, printed)', commands: ['serve'] },
  'api-key': {
    type: 'string',
    value: '<key>',
    defaultText: 'TUNESPEC_API_KEY, else none',
    description: 'require `Authorization: Bearer <key>` on every request (prefer the environment variable: a flag shows in ps)',
    commands: ['serve'],
  },
  'max-models-memory': {
    type: 'string',
    value: '<size>',
    defaultText: 'TUNESPEC_MAX_MODELS_MEMORY, else 4G',
    description: 'memory for loaded models (4 bytes a parameter); past it the least recently used are unloaded (bytes, or with K, M, G)',
    commands: ['serve'],
  },
  top: { type: 'string', value: '<k>', default: '3', description: 'classes to show per input', commands: ['predict'] },
  engine: {
    type: 'string',
    value: '<engine>',
    choices: ['tfjs', 'onnx'],
    default: 'tfjs',
    description: "run the TensorFlow.js model or the variant's model.onnx (onnxruntime)",
    commands: ['predict', 'evaluate'],
  },
  json: { type: 'boolean', default: false, description: 'machine-readable output', commands: ['inspect', 'predict', 'evaluate', 'register', 'cache'] },
  debug: { type: 'boolean', default: false, description: 'print stack traces', commands: 'every' },
  help: { type: 'boolean', short: 'h', default: false, description: 'show help: of the command when one is named', commands: 'every' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

type Spec<K extends OptionName> = (typeof OPTIONS)[K];
type ValueOf<O> = O extends { multiple: true } ? string[] : O extends { type: 'boolean' } ? boolean : string;
type Present<K extends OptionName> = Spec<K> extends { default: unknown } | { multiple: true } ? K : never;

/** The parsed options: those with a default (or repeatable) are always there, the others may be absent. */
export type OptionValues = { [K in OptionName as Present<K>]: ValueOf<Spec<K>> } & { [K in Exclude<OptionName, Present<OptionName>>]?: ValueOf<Spec<K>> };

/** The option as the table declares it, seen through the common interface. */
export function optionSpec(name: OptionName): OptionSpec {
  return OPTIONS[name];
}

export function takes(command: CommandName, name: OptionName): boolean {
  const { commands } = optionSpec(name);
  return commands === 'every' || commands.includes(command);
}

/** The options a command takes, in table order. */
export function optionsOf(command: CommandName): OptionName[] {
  return OPTION_NAMES.filter((name) => takes(command, name));
}
