import { ENGINE_ORDER, probeEngine, selectEngine } from '../../engine/backends.ts';
import { formatTable } from '../../report/table.ts';
import { MlflowClient } from '../../track/mlflow/client.ts';
import { resolveTrackingConfig } from '../../track/mlflow/config.ts';
import type { Io } from '../io.ts';

/** Where runs would be tracked from this shell, and whether that server answers. */
async function trackingLine(trackingUri: string | undefined): Promise<string> {
  const config = resolveTrackingConfig({ flag: trackingUri, spec: {}, specName: '(spec name)', env: process.env });
  if (!config) return 'MLflow: off here (set MLFLOW_TRACKING_URI, pass --tracking-uri, or name tracking.uri in a spec)';
  const auth = config.auth ? `, ${config.auth.kind} auth` : '';
  const up = await new MlflowClient(config).healthy();
  return `MLflow: ${config.uri}${auth}, experiment ${config.experiment}: ${up ? 'answers /health' : 'does not answer'}`;
}

/** Which engines load here and why the others do not; what auto picks for typical variants; where tracking goes. */
export async function doctorCommand(io: Io, trackingUri?: string): Promise<number> {
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
  io.out('');
  io.out(await trackingLine(trackingUri));
  return 0;
}
