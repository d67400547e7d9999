export const HELP = `tunespec: YAML experiment specs in, fine-tuning sweeps out

Usage:
  tunespec validate <spec...>        check specs, every file: schema errors, then (once the schema passes)
                                     base model and data errors, as file:line:col: message
  tunespec plan <spec>               show the built model's layers (frozen/trainable) and the variants
  tunespec run <spec> [options]      train every variant of the sweep into the run store (and MLflow)
  tunespec runs <spec>               compare stored variants of the spec, best first; name the best
  tunespec sync <spec|run-folder>    upload to MLflow what it lacks of stored sweeps (idempotent)
  tunespec inspect <model|spec>      layers, shapes, parameters of a model.json (path or URL), a
                                     Hugging Face folder (path or hf://org/name), or of
                                     the model a spec builds (cut, head, frozen/trainable)
  tunespec predict <variant> <inputs...>
                                     class probabilities for images, image folders, IDX or CSV files,
                                     with the variant's own preprocessing
  tunespec evaluate <variant> <data...>
                                     held-out metrics on other data: IDX images + labels, an image
                                     folder or a CSV file (logged to the variant's MLflow run)
  tunespec cache [list|clear]        what the frozen-feature cache holds (--json), or empty it
  tunespec worker --queue <url>      train queued variants, one per process at a time, until stopped
  tunespec status <spec> --queue <url>
                                     watch a queued sweep until every variant has settled
  tunespec doctor                    show which engines load here, which one auto picks, and
                                     where MLflow tracking goes from this shell
  tunespec help                      this text

Options for run:
  --only <variant-id>                run only this variant (repeatable)
  --backend <auto|native-gpu|native|wasm|cpu>
                                     engine to train on (default auto: native TensorFlow when
                                     it loads, else wasm when it has every kernel, else cpu)
  --force                            retrain variants that already completed
  --no-feature-cache                 train every variant end to end instead of computing the
                                     frozen layers once (onnxruntime) and training on cached
                                     features
  --index <n>                        run only variant n of the plan (array jobs pass
                                     "$SLURM_ARRAY_TASK_ID" or "$JOB_COMPLETION_INDEX")
  --queue <redis://host:port[/db]>   queue one job per variant for workers instead of training
                                     here, then watch them (Ctrl-C stops watching, not the sweep)
  --detach                           with --queue: queue and return at once
  --attempts <n>                     tries per variant in the queue or per k8s index (default 3)
  --backoff <seconds>                pause before a queued retry, doubling each time (default 10)
Options for worker:
  --concurrency <n>                  worker processes to start, one variant each (default 1)
  --name <name>                      shown in its output and as the tunespec.worker tag of its
                                     MLflow runs (default <host>-<pid>)
  --backend, --runs-dir              as for run; each worker has its own run store
  --lock-duration <seconds>          a job's lock without renewal: the job of a worker that died
                                     is retried after it (default 30)
  --stalled-interval <seconds>       how often to look for such jobs (default 30)
Options for plan --emit <slurm|k8s> (prints an array job; task or index n runs variant n):
  --gpus <n>                         GPUs per variant (default 1; 0 for none)
  --cpus <n>, --memory <size>        per variant (slurm: 16G; k8s: 16Gi)
  --time <limit>, --partition <p>    slurm: time limit, partition
  --image <image>                    k8s: a container image with tunespec (required)
  --mlflow-secret <name>             k8s: Secret holding the MLFLOW_* variables (envFrom)
  --parallelism <n>                  k8s: pods at once (default: every variant)
  --pvc <claim>, --workdir <dir>     k8s: volume with the spec, model and data, and where it is
                                     mounted (default /workspace)
Options for run, runs, sync, predict and evaluate:
  --runs-dir <dir>                   run store root (default: runs)
<variant> is a variant id, a stored variant's folder or model.json, or \`best\` (with --spec).
Options for predict and evaluate:
  --spec <spec>                      the spec whose best variant \`best\` means
  --top <k>                          predict: classes to show per input (default 3)
  --engine <tfjs|onnx>               predict: run the TensorFlow.js model (default) or model.onnx
  --json                             machine-readable output (also for inspect)
Options for run, runs, sync, evaluate, worker, status and doctor:
  --tracking-uri <http(s)://host:port>
                                     MLflow server; beats the spec's tracking.uri, which beats
                                     MLFLOW_TRACKING_URI. Without any of the three, runs stay local.
Global:
  --debug                            print stack traces

Environment (as the MLflow Python client reads it):
  MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME, MLFLOW_TRACKING_USERNAME and
  MLFLOW_TRACKING_PASSWORD (basic auth), MLFLOW_TRACKING_TOKEN (bearer),
  MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_HTTP_REQUEST_MAX_RETRIES (default 7),
  MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (2), MLFLOW_HTTP_REQUEST_BACKOFF_JITTER (1),
  MLFLOW_HTTP_REQUEST_TIMEOUT (120 seconds)
Base models at http(s) URLs: TUNESPEC_HTTP_TIMEOUT (seconds to connect, to the first byte,
  and between bytes of the body; default 15, as pip), TUNESPEC_HTTP_RETRIES (default 3: connection
  errors, timeouts, 408, 429 and 5xx are retried with backoff; other answers are final)
Feature cache: TUNESPEC_CACHE_DIR (default $XDG_CACHE_HOME/tunespec/features, else
  ~/.cache/tunespec/features), TUNESPEC_CACHE_MAX (size cap such as 10G, the default; least
  recently used entries go first)
Progress: TUNESPEC_PROGRESS_SECONDS (when run's output is not a terminal, seconds between lines
  of progress within an epoch: batch, examples/s, ETA; default 30)
Slow engine: when auto falls to pure-JS cpu for convolution backprop, run refuses a variant whose
  first step says it would train longer than TUNESPEC_SLOW_ENGINE_LIMIT seconds (default 600), naming
  npm run setup:native; --backend cpu trains it anyway

Exit codes: 0 success; 1 invalid spec, failed variant, bad input (unknown variant, wrong image
size, not a model), an MLflow server that refused us or no Redis at --queue; 2 usage error;
130 interrupted.
`;
