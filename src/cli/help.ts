export const HELP = `tunespec: YAML experiment specs in, fine-tuning sweeps out

Usage:
  tunespec validate <spec...>        check specs: every error of every file, as file:line:col: message
  tunespec plan <spec>               show the built model's layers (frozen/trainable) and the variants
  tunespec run <spec> [options]      train every variant of the sweep into the run store
  tunespec runs <spec>               compare stored variants of the spec, best first
  tunespec doctor                    show which engines load here, and which one auto picks
  tunespec help                      this text

Options for run:
  --only <variant-id>                run only this variant (repeatable)
  --backend <auto|native-gpu|native|wasm|cpu>
                                     engine to train on (default auto: native TensorFlow when
                                     it loads, else wasm when it has every kernel, else cpu)
  --force                            retrain variants that already completed
Options for run and runs:
  --runs-dir <dir>                   run store root (default: runs)
Global:
  --debug                            print stack traces

Exit codes: 0 success, 1 invalid spec or a failed variant, 2 usage error, 130 interrupted.
`;
