import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { EngineName } from './backends.ts';

/** Vector extensions that change which kernels oneDNN and Eigen pick, and so how their sums round. */
const ISA = ['amx_tile', 'avx512_bf16', 'avx512_vnni', 'avx512f', 'avx2', 'fma', 'avx', 'sse4_2', 'asimd', 'sve'];

function cpuFlags(): string[] {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(info)?.[1] ?? '';
    const have = new Set(line.split(/\s+/));
    return ISA.filter((f) => have.has(f));
  } catch {
    return [];
  }
}

/**
 * The machine an engine's arithmetic depends on, or undefined for an engine that computes the same
 * bits on any host (wasm and cpu: IEEE arithmetic in a fixed order, whatever the CPU). Native
 * TensorFlow picks its kernels by the CPU's vector extensions and splits work over as many threads
 * as there are cores, and both change how sums round: a checkpoint it wrote continues bit for bit
 * only on a machine that answers the same here.
 */
export function arithmeticHost(engine: EngineName): string | undefined {
  if (engine !== 'native' && engine !== 'native-gpu') return undefined;
  const model = cpus()[0]?.model.trim() || 'unknown CPU';
  const flags = cpuFlags();
  return `${model}${flags.length ? ` (${flags.join(' ')})` : ''}, ${availableParallelism()} threads`;
}
