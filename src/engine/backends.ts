// The only module that imports a TensorFlow.js runtime or backend. Everything else receives the
// `tf` namespace from here, so `validate` and `plan --no-model` never load native code.
import { realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { TunespecError } from '../errors.ts';
import { PACKAGE_ROOT } from '../package-root.ts';
import { useNativeGradients } from './native-gradients.ts';

export type Tf = typeof TF;
export type EngineName = 'native-gpu' | 'native' | 'wasm' | 'cpu';
export type EngineRequest = 'auto' | EngineName;

export interface EngineProbe {
  name: EngineName;
  available: boolean;
  detail: string;
}

export interface Engine {
  name: EngineName;
  tf: Tf;
  /** Why this engine was picked: printed and recorded with the run. */
  reason: string;
  version: string;
}

const NATIVE_PACKAGES: Record<'native-gpu' | 'native', string> = {
  'native-gpu': '@tensorflow/tfjs-node-gpu',
  native: '@tensorflow/tfjs-node',
};

/** Where scripts/setup-native.sh builds tfjs-node against pip's libtensorflow (outside node_modules). */
export const NATIVE_PREFIX = pathToFileURL(join(PACKAGE_ROOT, '.native') + '/');

/**
 * Load a native package: from node_modules if installed there, else from the scripts/setup-native.sh
 * build. That build's @tensorflow/tfjs* are links to ours, so it registers on the same tfjs-core.
 */
async function importNative(pkg: string): Promise<void> {
  // libtensorflow reads this when it loads: keep its C++ INFO/WARNING lines off the CLI's stderr.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  try {
    await import(pkg);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || process.env.TUNESPEC_NO_NATIVE_BUILD) throw err;
    createRequire(new URL('noop.js', NATIVE_PREFIX))(pkg); // MODULE_NOT_FOUND when setup-native has not run
  }
}

/** What tfjs-node's backend exposes about the libtensorflow under it. */
interface NativeBackend {
  binding?: { TF_Version?: string };
  isUsingGpuDevice?: boolean;
}

/** TensorFlow's own version under each native engine that loaded. */
const nativeTf = new Map<EngineName, string>();

/** The libtensorflow a native package links, for doctor: its build under .native links into a pip wheel. */
async function nativeLibrary(pkg: string): Promise<string> {
  for (const from of [import.meta.url, new URL('noop.js', NATIVE_PREFIX)]) {
    try {
      const entry = createRequire(from).resolve(pkg);
      return await realpath(join(dirname(entry), '..', 'deps', 'lib', 'libtensorflow.so'));
    } catch {
      // Not installed this way; try the other.
    }
  }
  return 'library path unknown';
}

let tfCore: Tf | undefined;
const probes = new Map<EngineName, Promise<EngineProbe>>();

async function core(): Promise<Tf> {
  if (!tfCore) {
    tfCore = await import('@tensorflow/tfjs');
    // PROD silences tfjs's console banner about installing tfjs-node; `doctor` says that better.
    tfCore.env().set('PROD', true);
  }
  return tfCore;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

async function probeOnce(name: EngineName): Promise<EngineProbe> {
  if (name === 'native' || name === 'native-gpu') {
    try {
      // Importing registers the 'tensorflow' backend on the shared tfjs-core instance.
      await importNative(NATIVE_PACKAGES[name]);
      const tf = await core();
      const backend = tf.findBackend('tensorflow') as (TF.KernelBackend & NativeBackend) | null;
      if (!backend) throw new EngineError('the package loaded but registered no tensorflow backend');
      const tfVersion = backend.binding?.TF_Version ?? 'unknown';
      nativeTf.set(name, tfVersion);
      useNativeGradients(tf);
      const device = backend.isUsingGpuDevice ? 'GPU' : 'CPU';
      return { name, available: true, detail: `${NATIVE_PACKAGES[name]} on TensorFlow ${tfVersion} (${await nativeLibrary(NATIVE_PACKAGES[name])}), device ${device}` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' ? `${NATIVE_PACKAGES[name]} is not installed` : firstLine(err);
      return { name, available: false, detail: why };
    }
  }
  const tf = await core();
  if (name === 'wasm') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new EngineError('the wasm backend failed to initialise');
      return { name, available: true, detail: 'WebAssembly (XNNPACK), single-threaded in Node' };
    } catch (err) {
      return { name, available: false, detail: firstLine(err) };
    }
  }
  return { name, available: true, detail: 'pure JavaScript: portable, slow for convolutions' };
}

export function probeEngine(name: EngineName): Promise<EngineProbe> {
  let p = probes.get(name);
  if (!p) probes.set(name, (p = probeOnce(name)));
  return p;
}

const BACKEND_OF: Record<EngineName, string> = { 'native-gpu': 'tensorflow', native: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };
export const ENGINE_ORDER: EngineName[] = ['native-gpu', 'native', 'wasm', 'cpu'];

/**
 * Pick the engine for a variant: the first of native-gpu, native, wasm, cpu that loads and has every
 * kernel in `kernels` (the ones its training step needs), unless the user named one.
 */
export async function selectEngine(request: EngineRequest, kernels: readonly string[]): Promise<Engine> {
  const tf = await core();
  const rejected: string[] = [];
  for (const name of request === 'auto' ? ENGINE_ORDER : [request]) {
    const probe = await probeEngine(name);
    if (!probe.available) {
      rejected.push(`${name}: ${probe.detail}`);
      continue;
    }
    const backend = BACKEND_OF[name];
    const missing = kernels.filter((k) => !tf.getKernel(k, backend));
    if (missing.length) {
      rejected.push(`${name}: lacks ${missing.join(', ')}`);
      continue;
    }
    if (tf.getBackend() !== backend && !(await tf.setBackend(backend))) {
      rejected.push(`${name}: backend failed to initialise`);
      continue;
    }
    const reason = request === 'auto' ? (rejected.length ? `auto; skipped ${rejected.join('; ')}` : 'auto; first choice') : 'requested';
    const native = nativeTf.get(name);
    return { name, tf, reason, version: native ? `${tf.version.tfjs} (TensorFlow ${native})` : tf.version.tfjs };
  }
  throw new EngineUnavailableError(request, rejected);
}

/**
 * Why `engine` is the wrong place to train on, when it is: `auto` fell through to pure-JS cpu for a
 * step that needs convolution backprop kernels (wasm has none). Measured in issue 18: a
 * MobileNetV2 with its top block unfrozen ran 44 minutes on cpu without ending an epoch, and the
 * whole sweep 58 s on the native engine. No native engine is built here to measure each time, so
 * this rule stands for "far more than 10x what native would take".
 */
export function slowEngineReason(request: EngineRequest, engine: EngineName, kernels: readonly string[]): string | undefined {
  if (request !== 'auto' || engine !== 'cpu' || !kernels.length) return undefined;
  return `auto picked the pure-JS cpu engine for convolution backprop (${kernels.join(', ')}), often 10-100x slower than the native engine`;
}

/** A TensorFlow.js engine that did not load or cannot run what it is asked to. */
export class EngineError extends TunespecError {
  constructor(message: string) {
    super('ENGINE', message);
  }
}

export class EngineUnavailableError extends EngineError {
  constructor(
    readonly request: EngineRequest,
    /** Each engine tried, with why it was passed over. */
    readonly rejected: string[],
  ) {
    super(`no engine can run this variant (${request}): ${rejected.join('; ')}`);
  }
}

/** A tf namespace for work that needs no particular engine (building a model to count parameters). */
export async function anyTf(): Promise<Tf> {
  const tf = await core();
  await tf.ready();
  return tf;
}
