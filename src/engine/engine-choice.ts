import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ENGINE_ORDER, NATIVE_PREFIX, selectEngine, type Engine, type EngineName, type EngineRequest } from './backends.ts';
import { CacheRecords } from './cache-records.ts';
import { cacheRoot } from './feature-cache.ts';

/** The engine selectEngine picked, as `plan` shows it and keys its step probes. */
export interface EngineChoice {
  name: EngineName;
  version: string;
}

const PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

/**
 * What selectEngine's answer depends on besides its arguments: which engine packages resolve, from
 * where (node_modules, or the scripts/setup-native.sh build), and their installed files' times. A
 * package installed, rebuilt or removed changes it.
 */
function installedEngines(): string {
  const found: unknown[] = [process.env.TUNESPEC_NO_NATIVE_BUILD ?? ''];
  for (const from of [import.meta.url, new URL('noop.js', NATIVE_PREFIX).href]) {
    const require = createRequire(from);
    for (const pkg of PACKAGES) {
      try {
        const manifest = require.resolve(`${pkg}/package.json`);
        found.push([pkg, manifest, statSync(manifest).mtimeMs]);
      } catch {
        found.push([pkg, null]);
      }
    }
  }
  return JSON.stringify(found);
}

/**
 * Engine choices on disk under the cache root (`engine-choices/`), by the request, the kernels
 * the step needs and the installed engine packages: loading TensorFlow.js and probing each engine
 * costs a second, more than the rest of `plan` with its step probes cached. Unreadable entries
 * are chosen again; a write that fails costs only the next plan's load.
 */
export class EngineChoiceCache {
  private installed: string | undefined;
  private readonly records: CacheRecords<EngineChoice>;

  constructor(readonly dir: string) {
    this.records = new CacheRecords(dir, (r): r is EngineChoice => ENGINE_ORDER.includes((r as EngineChoice)?.name) && typeof (r as EngineChoice).version === 'string');
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): EngineChoiceCache {
    return new EngineChoiceCache(join(cacheRoot(env), 'engine-choices'));
  }

  private keyFor(request: EngineRequest, kernels: readonly string[]): string {
    this.installed ??= installedEngines();
    return createHash('sha256').update(JSON.stringify([request, [...kernels].sort(), this.installed])).digest('hex').slice(0, 32);
  }

  /** The engine selectEngine picked when last asked the same with the same packages installed. */
  async get(request: EngineRequest, kernels: readonly string[]): Promise<EngineChoice | undefined> {
    const r = await this.records.read(this.keyFor(request, kernels));
    return r && { name: r.name, version: r.version };
  }

  /** selectEngine's pick, loaded, and kept for the next get. */
  async select(request: EngineRequest, kernels: readonly string[]): Promise<Engine> {
    const engine = await selectEngine(request, kernels);
    await this.records.write(this.keyFor(request, kernels), { name: engine.name, version: engine.version });
    return engine;
  }
}
