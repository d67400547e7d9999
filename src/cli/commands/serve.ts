import { resolve } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseSize } from '../../engine/feature-cache.ts';
import { listModels } from '../../app/resolve-model.ts';
import { startServer } from '../../serve/server.ts';
import type { Io } from '../io.ts';

export interface ServeCommandOptions {
  host: string;
  port: string;
  runsDir: string;
  apiKey?: string;
  maxModelsMemory?: string;
}

export const DEFAULT_MAX_MODELS_MEMORY = '4G';

/** `tunespec serve`: the OpenAI-compatible server, until SIGINT or SIGTERM. */
export async function serveCommand(opts: ServeCommandOptions, io: Io): Promise<number> {
  if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535) throw new UsageError(`--port must be a port number from 0 to 65535; got "${opts.port}"`);
  const apiKey = opts.apiKey ?? (process.env.TUNESPEC_API_KEY || undefined);
  if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError('--api-key is empty');
  const memory = opts.maxModelsMemory ?? process.env.TUNESPEC_MAX_MODELS_MEMORY ?? DEFAULT_MAX_MODELS_MEMORY;
  const maxModelsBytes = parseSize(memory, opts.maxModelsMemory === undefined && process.env.TUNESPEC_MAX_MODELS_MEMORY ? 'TUNESPEC_MAX_MODELS_MEMORY' : '--max-models-memory');
  const runsDir = resolve(opts.runsDir);
  // Handlers first: a signal that comes as soon as the address is printed must not find the default (exit at once).
  let stop!: () => void;
  const stopped = new Promise<void>((done) => (stop = done));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    const server = await startServer({ host: opts.host, port: Number(opts.port), runsDir, apiKey, maxModelsBytes, log: io.err });
    const models = await listModels(runsDir);
    io.out(`serve: listening on ${server.url}/v1 (OpenAI-compatible); ${models.length} model${models.length === 1 ? '' : 's'} in ${runsDir}; ${apiKey ? 'a bearer key is required' : 'no key required'}`);
    for (const m of models) io.out(`  ${m.name}`);
    await stopped;
    io.out('serve: stopping');
    await server.close();
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  io.out('serve: stopped');
  return 0;
}
