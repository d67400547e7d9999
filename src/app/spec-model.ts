import { anyTf } from '../engine/backends.ts';
import { familyOf } from '../model/families/index.ts';
import type { BuiltVariant } from '../model/families/types.ts';
import type { Variant } from '../plan/expand.ts';
import type { LoadedSpec } from './load-spec.ts';

/** The model a spec's variant builds, for showing it (plan, inspect): nothing trains. */
export async function specModel(spec: LoadedSpec, { id, spec: variant }: Variant): Promise<BuiltVariant> {
  const { base, layers, cutIndexes } = spec.model;
  return familyOf(base).build(await anyTf(), { base, layers }, cutIndexes.get(id)!, variant);
}
