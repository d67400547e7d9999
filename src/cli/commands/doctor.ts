import { ENGINE_ORDER, probeEngine, selectEngine } from '../../engine/backends.ts';
import { formatTable } from '../../report/table.ts';
import type { Io } from '../io.ts';

/** Which engines load here and why the others do not; what auto picks for typical variants. */
export async function doctorCommand(io: Io): Promise<number> {
  const probes = [];
  for (const name of ENGINE_ORDER) probes.push(await probeEngine(name));
  io.out(formatTable(['engine', 'loads', 'detail'], probes.map((p) => [p.name, p.available ? 'yes' : 'no', p.detail])));
  const cases: [string, string[]][] = [
    ['frozen convolutional base, new head', []],
    ['trainable convolutions', ['Conv2DBackpropFilter', 'Conv2DBackpropInput']],
  ];
  io.out('');
  for (const [what, kernels] of cases) {
    const engine = await selectEngine('auto', kernels);
    io.out(`auto for ${what}: ${engine.name} (${engine.reason}), tfjs ${engine.version}`);
  }
  return 0;
}
