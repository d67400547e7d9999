import { TunespecError, UsageError } from '../errors.ts';
import type { EngineRequest } from '../engine/backends.ts';
import { commandHelp, HELP } from './help.ts';
import { completionScript } from './completion.ts';
import { commandNamed, parseCommandLine } from './parse-args.ts';
import { processIo, type Io } from './io.ts';
import { redactUrlsIn } from '../net/redact.ts';
import { dispatchScaleOut } from './scale-out.ts';
import type { PredictorEngine } from '../app/variant-predictor.ts';
import { parseIndex } from '../plan/index-of.ts';

const EXIT: Record<string, number> = { USAGE: 2, SPEC_INVALID: 1 };

function oneSpec(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one spec file`);
  return positionals[0];
}

/** `tunespec help [command]`: the whole help, or one command's. */
function helpCommand(args: string[], io: Io): number {
  if (args.length > 1) throw new UsageError('help takes at most one command');
  const name = commandNamed(args[0]);
  io.out(name === undefined || name === 'help' ? HELP : commandHelp(name));
  return 0;
}

// Each command's module is imported when that command runs: together they pull in packages (vega,
// ioredis, listr2, tokenizers, …) that cost more to load than `validate` of a large grid takes to run.
async function dispatch(argv: string[], io: Io): Promise<number> {
  const { command, args, values } = parseCommandLine(argv);
  if (command === undefined) {
    io.out(HELP);
    return values.help ? 0 : 2;
  }
  if (command === 'help' || values.help) return helpCommand(command === 'help' ? args : [command], io);
  const scaled = dispatchScaleOut(command, args, values, io);
  if (scaled) return scaled;
  switch (command) {
    case 'validate':
      if (!args.length) throw new UsageError('validate needs at least one spec file');
      return (await import('./commands/validate.ts')).validateCommand(args, io, { debug: values.debug });
    case 'plan':
      return (await import('./commands/plan.ts')).planCommand(oneSpec(args, command), io, {
        estimate: !values['no-estimate'],
        engine: values.backend as EngineRequest,
        featureCache: !values['no-feature-cache'],
      });
    case 'run':
      return (await import('./commands/run.ts')).runCommand(
        oneSpec(args, command),
        {
          only: values.only,
          backend: values.backend as EngineRequest,
          force: values.force,
          restart: values.restart,
          runsDir: values['runs-dir'],
          trackingUri: values['tracking-uri'],
          featureCache: !values['no-feature-cache'],
          index: values.index === undefined ? undefined : parseIndex(values.index),
        },
        io,
      );
    case 'runs':
      return (await import('./commands/runs.ts')).runsCommand(oneSpec(args, command), { runsDir: values['runs-dir'], trackingUri: values['tracking-uri'] }, io);
    case 'sync':
      if (args.length !== 1) throw new UsageError('sync takes exactly one spec file or run folder');
      return (await import('./commands/sync.ts')).syncCommand(args[0], { runsDir: values['runs-dir'], trackingUri: values['tracking-uri'] }, io);
    case 'inspect':
      if (args.length !== 1) throw new UsageError('inspect takes exactly one model (model.json path or URL, .onnx) or spec');
      return (await import('./commands/inspect.ts')).inspectCommand(args[0], { json: values.json }, io);
    case 'predict': {
      const [target, ...inputs] = args;
      if (!target || !inputs.length) throw new UsageError('predict needs a variant (id, best, path or models:/NAME/VERSION) and at least one input');
      const top = Number(values.top);
      if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive integer; got "${values.top}"`);
      return (await import('./commands/predict.ts')).predictCommand(target, inputs, { spec: values.spec, runsDir: values['runs-dir'], trackingUri: values['tracking-uri'], top, engine: values.engine as PredictorEngine, json: values.json }, io);
    }
    case 'evaluate': {
      const [target, ...data] = args;
      if (!target || !data.length || data.length > 2) throw new UsageError('evaluate needs a variant (id, best, path or models:/NAME/VERSION) and a dataset (IDX images and labels, an image folder or a CSV file)');
      return (await import('./commands/evaluate.ts')).evaluateCommand(target, data, { spec: values.spec, runsDir: values['runs-dir'], trackingUri: values['tracking-uri'], engine: values.engine as PredictorEngine, json: values.json }, io);
    }
    case 'register':
      if (args.length !== 1) throw new UsageError('register takes one variant (id, best or path) and --name <registered model>');
      if (!values.name) throw new UsageError('register needs --name <registered model>: the name in the MLflow Model Registry');
      return (await import('./commands/register.ts')).registerCommand(args[0]!, { name: values.name, spec: values.spec, runsDir: values['runs-dir'], trackingUri: values['tracking-uri'], json: values.json }, io);
    case 'generate': {
      if (args.length !== 2) throw new UsageError('generate takes a model (name, variant id, best, or a model folder or .gguf file) and one prompt (quote it)');
      const o = { runsDir: values['runs-dir'], spec: values.spec, chat: values.chat, temperature: values.temperature, topP: values['top-p'], topK: values['top-k'], maxTokens: values['max-tokens'], stop: values.stop, seed: values.seed };
      return (await import('./commands/generate.ts')).generateCommand(args[0]!, args[1]!, o, io);
    }
    case 'serve':
      if (args.length) throw new UsageError('serve takes no arguments: it serves every model of --runs-dir');
      return (await import('./commands/serve.ts')).serveCommand({ host: values.host, port: values.port, runsDir: values['runs-dir'], apiKey: values['api-key'], maxModelsMemory: values['max-models-memory'] }, io);
    case 'cache':
      if (args.length > 1) throw new UsageError('cache takes at most one action: list or clear');
      return (await import('./commands/cache.ts')).cacheCommand(args[0], { json: values.json }, io);
    case 'doctor':
      return (await import('./commands/doctor.ts')).doctorCommand(io, values['tracking-uri']);
    case 'completion':
      if (args.length !== 1) throw new UsageError('completion takes one shell: bash or zsh');
      io.out(completionScript(args[0]!));
      return 0;
    default:
      throw new UsageError(`${command} is handled elsewhere`);
  }
}

function withoutUrlSecrets(err: unknown): unknown {
  if (err instanceof Error) {
    err.message = redactUrlsIn(err.message);
    if (err.stack) err.stack = redactUrlsIn(err.stack);
  }
  return err;
}

/** The CLI: returns the exit code; prints errors as messages, stack traces only with --debug. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (thrown) {
    // Whatever a failure quotes (a path the user gave, a library's message), it never shows a URL's secrets.
    const err = withoutUrlSecrets(thrown);
    const e = err as Error & { code?: string };
    if (argv.includes('--debug')) io.err(e.stack ?? String(e));
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      io.err(`tunespec: ${e.message}`);
      return 2;
    }
    if (err instanceof TunespecError && err.code !== 'INTERNAL') {
      io.err(err instanceof UsageError ? err.message.replace(/^/gm, 'tunespec: ') : err.message);
      return EXIT[err.code] ?? 1;
    }
    io.err(`tunespec: internal error: ${e.message}${argv.includes('--debug') ? '' : ' (--debug shows the stack)'}`);
    return 1;
  }
}
