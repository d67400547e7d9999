import { UsageError } from '../../errors.ts';
import { registerVariant } from '../../app/register-variant.ts';
import { resolveTarget } from '../../app/variant-model.ts';
import type { Io } from '../io.ts';

export interface RegisterOptions {
  name: string;
  spec?: string;
  runsDir: string;
  trackingUri?: string;
  json: boolean;
}

export async function registerCommand(target: string, opts: RegisterOptions, io: Io): Promise<number> {
  if (target.startsWith('models:/')) throw new UsageError(`register takes a stored variant (id, best or path); ${target} is registered already`);
  const variant = await resolveTarget(target, opts.spec, opts.runsDir, undefined, 'register');
  const r = await registerVariant(variant, opts.name, opts.trackingUri);
  const { status } = variant.stored;
  if (opts.json) {
    io.out(JSON.stringify({ name: r.version.name, version: r.version.version, created: r.created, uri: `models:/${r.version.name}/${r.version.version}`, url: r.url, variant: status.variant, label: status.label, attempt: status.attempt }, null, 2));
    return 0;
  }
  if (r.synced) io.out(`uploaded the variant's sweep to MLflow first (its logged model was missing)`);
  const what = r.created ? 'registered' : 'already registered';
  io.out(`variant ${status.variant} (${status.label}) ${what} as models:/${r.version.name}/${r.version.version}: ${r.url}`);
  return 0;
}
