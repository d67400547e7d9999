import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A package loaded on first use rather than at startup: bullmq, kubernetes-models and undici take
 * ~0.35 s of CPU to load, which every command paid, though only queue, emit and network commands
 * use them. Node shares one instance between this and an `import` of the same package.
 */
export function lazyPackage<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}

export const bullmq = lazyPackage<typeof import('bullmq')>('bullmq');
export const undici = lazyPackage<typeof import('undici')>('undici');
export const kubernetesJobModel = lazyPackage<typeof import('kubernetes-models/batch/v1/Job')>('kubernetes-models/batch/v1/Job');
