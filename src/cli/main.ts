import { parseArgs } from 'node:util';
import { TunespecError, UsageError } from '../errors.ts';
import { ENGINE_ORDER, type EngineRequest } from '../engine/backends.ts';
import { HELP } from './help.ts';
import { processIo, type Io } from './io.ts';
import { validateCommand } from './commands/validate.ts';
import { planCommand } from './commands/plan.ts';
import { runCommand } from './commands/run.ts';
import { runsCommand } from './commands/runs.ts';
import { doctorCommand } from './commands/doctor.ts';
import { syncCommand } from './commands/sync.ts';
import { inspectCommand } from './commands/inspect.ts';
import { predictCommand } from './commands/predict.ts';
import { evaluateCommand } from './commands/evaluate.ts';
import { emitCommand } from './commands/emit.ts';
import { runQueueCommand, statusCommand } from './commands/queue.ts';
import { workerCommand } from './commands/worker.ts';
import { positiveInt, SCALE_OPTIONS, seconds } from './scale-options.ts';
import { parseIndex } from '../plan/index-of.ts';

const EXIT: Record<string, number> = { USAGE: 2, SPEC_INVALID: 1 };

function oneSpec(positionals: string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes exactly one spec file`);
  return positionals[0];
}

function checkedBackend(backend: string): EngineRequest {
  if (backend !== 'auto' && !(ENGINE_ORDER as readonly string[]).includes(backend)) {
    throw new UsageError(`--backend must be one of auto, ${ENGINE_ORDER.join(', ')}; got "${backend}"`);
  }
  return backend as EngineRequest;
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      only: { type: 'string', multiple: true, default: [] },
      backend: { type: 'string', default: 'auto' },
      force: { type: 'boolean', default: false },
      'runs-dir': { type: 'string', default: 'runs' },
      'tracking-uri': { type: 'string' },
      spec: { type: 'string' },
      json: { type: 'boolean', default: false },
      top: { type: 'string', default: '3' },
      engine: { type: 'string', default: 'tfjs' },
      debug: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...SCALE_OPTIONS,
    },
  });
  const [command, ...args] = positionals;
  if (values.help || command === 'help' || command === undefined) {
    io.out(HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  switch (command) {
    case 'validate':
      if (!args.length) throw new UsageError('validate needs at least one spec file');
      return validateCommand(args, io);
    case 'plan':
      if (values.emit !== undefined) {
        const opt = (flag: 'cpus' | 'parallelism'): number | undefined => (values[flag] === undefined ? undefined : positiveInt(flag, values[flag]!));
        return emitCommand(
          oneSpec(args, command),
          {
            target: values.emit, runsDir: values['runs-dir'], backend: checkedBackend(values.backend), gpus: positiveInt('gpus', values.gpus, 0), cpus: opt('cpus'),
            memory: values.memory, time: values.time, partition: values.partition, image: values.image, mlflowSecret: values['mlflow-secret'],
            parallelism: opt('parallelism'), retries: positiveInt('attempts', values.attempts) - 1, pvc: values.pvc, workdir: values.workdir,
          },
          io,
        );
      }
      return planCommand(oneSpec(args, command), io);
    case 'run': {
      const backend = checkedBackend(values.backend);
      if (values.queue !== undefined) {
        if (values.index !== undefined || values.only.length || values.force) throw new UsageError('--queue runs the whole sweep: --index, --only and --force do not apply');
        return runQueueCommand(
          oneSpec(args, command),
          { queue: values.queue, detach: values.detach, trackingUri: values['tracking-uri'], attempts: positiveInt('attempts', values.attempts), backoffMs: seconds('backoff', values.backoff) },
          io,
        );
      }
      return runCommand(
        oneSpec(args, command),
        { only: values.only, backend, force: values.force, runsDir: values['runs-dir'], trackingUri: values['tracking-uri'], index: values.index === undefined ? undefined : parseIndex(values.index) },
        io,
      );
    }
    case 'worker':
      if (args.length) throw new UsageError('worker takes no arguments: it trains whatever variants are queued');
      if (values.queue === undefined) throw new UsageError('worker needs --queue redis://host:port[/db]');
      return workerCommand(
        {
          queue: values.queue, concurrency: positiveInt('concurrency', values.concurrency), name: values.name, backend: checkedBackend(values.backend), runsDir: values['runs-dir'],
          trackingUri: values['tracking-uri'], lockDurationMs: seconds('lock-duration', values['lock-duration']), stalledIntervalMs: seconds('stalled-interval', values['stalled-interval']),
        },
        io,
      );
    case 'status':
      if (values.queue === undefined) throw new UsageError('status needs --queue redis://host:port[/db]: the queue the sweep was sent to');
      return statusCommand(oneSpec(args, command), { queue: values.queue, trackingUri: values['tracking-uri'] }, io);
    case 'runs':
      return runsCommand(oneSpec(args, command), { runsDir: values['runs-dir'], trackingUri: values['tracking-uri'] }, io);
    case 'sync':
      if (args.length !== 1) throw new UsageError('sync takes exactly one spec file or run folder');
      return syncCommand(args[0], { runsDir: values['runs-dir'], trackingUri: values['tracking-uri'] }, io);
    case 'inspect':
      if (args.length !== 1) throw new UsageError('inspect takes exactly one model (model.json path or URL, .onnx) or spec');
      return inspectCommand(args[0], { json: values.json }, io);
    case 'predict': {
      const [target, ...inputs] = args;
      if (!target || !inputs.length) throw new UsageError('predict needs a variant (id, best or path) and at least one input');
      const top = Number(values.top);
      if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive integer; got "${values.top}"`);
      if (values.engine !== 'tfjs' && values.engine !== 'onnx') throw new UsageError(`--engine must be tfjs or onnx; got "${values.engine}"`);
      return predictCommand(target, inputs, { spec: values.spec, runsDir: values['runs-dir'], top, engine: values.engine, json: values.json }, io);
    }
    case 'evaluate': {
      const [target, ...data] = args;
      if (!target || !data.length || data.length > 2) throw new UsageError('evaluate needs a variant (id, best or path) and a dataset (IDX images and labels, an image folder or a CSV file)');
      return evaluateCommand(target, data, { spec: values.spec, runsDir: values['runs-dir'], trackingUri: values['tracking-uri'], json: values.json }, io);
    }
    case 'doctor':
      return doctorCommand(io, values['tracking-uri']);
    default:
      throw new UsageError(`unknown command "${command}"; see tunespec help`);
  }
}

/** The CLI: returns the exit code; prints errors as messages, stack traces only with --debug. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (argv.includes('--debug')) io.err(e.stack ?? String(e));
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      io.err(`tunespec: ${e.message}`);
      return 2;
    }
    if (err instanceof TunespecError) {
      io.err(err instanceof UsageError ? `tunespec: ${err.message}` : err.message);
      return EXIT[err.code] ?? 1;
    }
    if (e.code === 'DATA' || e.code === 'ENGINE') {
      io.err(e.message);
      return 1;
    }
    io.err(`tunespec: internal error: ${e.message}${argv.includes('--debug') ? '' : ' (--debug shows the stack)'}`);
    return 1;
  }
}
