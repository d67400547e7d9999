import type { Plan } from '../plan/expand.ts';
import type { SweepListener } from '../train/events.ts';
import type { LocalRunStore } from './local-store.ts';

/**
 * The run store as seen by one of several processes that each train part of the same sweep
 * (array-job tasks, queue workers). The sweep record lists the whole plan, not just this
 * process's variants, so every process logs the same parent params to MLflow (params cannot
 * change once logged) and a later `sync` matches them. `ends`: whether this process may mark the
 * sweep ended; a queue worker may not, since variants it never sees are still running.
 */
export function storeForOneOfMany(store: LocalRunStore, plan: Plan, ends: boolean): SweepListener {
  return {
    onSweepStart: (s) => store.onSweepStart({ ...s, variants: plan.variants }),
    onVariantStart: (i) => store.onVariantStart(i),
    onEpochEnd: (i, e, m, at) => store.onEpochEnd(i, e, m, at),
    onVariantEnd: (v, r, i) => store.onVariantEnd(v, r, i),
    ...(ends ? { onSweepEnd: () => store.onSweepEnd() } : {}),
  };
}
