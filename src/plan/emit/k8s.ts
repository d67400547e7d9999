import { kubernetesJobModel } from '../../lazy-package.ts';
import { stringify } from 'yaml';
import { UsageError } from '../../errors.ts';
import type { ArrayJob } from './array-job.ts';

export interface K8sOptions {
  image: string;
  gpus: number;
  cpus?: number;
  /** Memory as Kubernetes takes it: 16Gi. */
  memory?: string;
  /** Pods running at once; every variant at once when absent. */
  parallelism?: number;
  /** Retries of one variant's pod before that index counts as failed. */
  retries: number;
  /** Secret whose keys (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME/PASSWORD or _TOKEN) become the environment. */
  mlflowSecret?: string;
  /** PersistentVolumeClaim with the spec, base model and data, mounted at `workdir`. */
  pvc?: string;
  workdir?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 name from an experiment name, short enough that `<job>-<index>` pod hostnames stay under 63. */
function jobName(experiment: string, sweepId: string): string {
  const base = experiment.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30);
  return `tunespec-${base ? `${base}-` : ''}${sweepId}`.replace(/-+/g, '-');
}

/**
 * A Kubernetes Indexed Job: completion index N runs variant N of the plan. Credentials never
 * appear in it: MLflow settings come from a Secret through `envFrom`. Validated against the
 * Kubernetes Job schema (kubernetes-models) before it is returned. Pure: text out.
 */
export function kubernetesJob(job: ArrayJob, o: K8sOptions): string {
  if (o.mlflowSecret !== undefined && !DNS_LABEL.test(o.mlflowSecret)) throw new UsageError(`--mlflow-secret "${o.mlflowSecret}" is not a Secret name (lowercase letters, digits and -)`);
  if (o.pvc !== undefined && !DNS_LABEL.test(o.pvc)) throw new UsageError(`--pvc "${o.pvc}" is not a PersistentVolumeClaim name (lowercase letters, digits and -)`);
  if (o.memory !== undefined && !/^\d+(\.\d+)?([KMGTPE]i?|[mk])?$/.test(o.memory)) throw new UsageError(`--memory "${o.memory}" is not a Kubernetes quantity (e.g. 16Gi)`);
  const labels = { 'app.kubernetes.io/name': 'tunespec', 'tunespec/sweep': job.sweepId };
  const limits: Record<string, string | number> = {};
  if (o.gpus > 0) limits['nvidia.com/gpu'] = o.gpus;
  if (o.cpus !== undefined) limits.cpu = o.cpus;
  if (o.memory !== undefined) limits.memory = o.memory;
  const workdir = o.workdir ?? (o.pvc ? '/workspace' : undefined);
  const args = ['run', job.specFile, '--index', '$(JOB_COMPLETION_INDEX)', '--runs-dir', job.runsDir];
  if (job.backend !== 'auto') args.push('--backend', job.backend);
  const manifest = new (kubernetesJobModel().Job)({
    metadata: { name: jobName(job.experiment, job.sweepId), labels },
    spec: {
      completionMode: 'Indexed',
      completions: job.count,
      parallelism: o.parallelism ?? job.count,
      // Per variant, not for the whole sweep: one variant's failures do not stop the others.
      backoffLimitPerIndex: o.retries,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'tunespec',
              image: o.image,
              ...(workdir ? { workingDir: workdir } : {}),
              command: ['npx', 'tunespec'],
              args,
              // Set by the Job controller too; declared so $(JOB_COMPLETION_INDEX) above always expands.
              env: [{ name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }],
              ...(o.mlflowSecret ? { envFrom: [{ secretRef: { name: o.mlflowSecret } }] } : {}),
              ...(Object.keys(limits).length ? { resources: { limits } } : {}),
              ...(o.pvc ? { volumeMounts: [{ name: 'work', mountPath: workdir! }] } : {}),
            },
          ],
          ...(o.pvc ? { volumes: [{ name: 'work', persistentVolumeClaim: { claimName: o.pvc } }] } : {}),
        },
      },
    },
  });
  try {
    manifest.validate();
  } catch (err) {
    throw new UsageError(`the Kubernetes Job for these options is invalid: ${(err as Error).message}`);
  }
  const header = [
    `# Sweep ${job.sweepId} of ${job.experiment}: completion index N trains variant N of \`tunespec plan ${job.specFile}\`.`,
    `# Written by \`tunespec plan ${job.specFile} --emit k8s\`; apply with \`kubectl apply -f\`.`,
    '# backoffLimitPerIndex needs Kubernetes 1.29 or later.',
  ];
  return header.join('\n') + '\n' + stringify(manifest.toJSON(), { lineWidth: 0 });
}
