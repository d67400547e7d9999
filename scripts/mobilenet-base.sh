#!/usr/bin/env bash
# Build the benchmark backbone into bench/.cache/mobilenet-base/ (git-ignored):
#   1. Python with TensorFlow 2.21: python3's own when it imports (no install), else the one
#      `npm run setup:native` put in .venv-native, else tensorflow-cpu 2.21 pip-installed into
#      bench/.cache/venv (never system-wide);
#   2. Keras pre-training of MobileNetV2 (alpha 0.35, 96x96x3, weights=None) + avg_pool +
#      Dense(10) on Fashion-MNIST train images, all 10 classes (scripts/mobilenet_pretrain.py) -> dump/;
#   3. the same graph rebuilt in tfjs, weights copied by layer name, saved as model.json +
#      weights.bin, reloaded and checked against Keras (scripts/mobilenet_build.ts).
# Usage: bash scripts/mobilenet-base.sh [--force]
# Env: PER_CLASS (default 1200), EPOCHS (default 2), SEED (default 1234).
# Prints the python it used on the last line as `python: PATH` (bench/frozen-backbone.ts reads it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CACHE=bench/.cache
OUT="$CACHE/mobilenet-base"
FORCE=0
[[ "${1:-}" == --force ]] && FORCE=1

has_tf() { "$1" -c 'import tensorflow as tf, sys; sys.exit(0 if tf.__version__.startswith("2.21") else 1)' >/dev/null 2>&1; }
if has_tf python3; then
  PY="$(command -v python3)"
elif [[ -x .venv-native/bin/python ]] && has_tf .venv-native/bin/python; then
  PY="$PWD/.venv-native/bin/python" # npm run setup:native's TensorFlow: no second 1.6 GB install
elif [[ -x "$CACHE/venv/bin/python" ]] && has_tf "$CACHE/venv/bin/python"; then
  PY="$CACHE/venv/bin/python"
else
  echo "==> installing tensorflow-cpu 2.21 into $CACHE/venv"
  mkdir -p "$CACHE"
  python3 -m venv "$CACHE/venv" || { echo "error: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
  "$CACHE/venv/bin/pip" install --quiet 'tensorflow-cpu==2.21.*'
  PY="$CACHE/venv/bin/python"
fi

[[ $FORCE == 1 ]] && rm -rf "$OUT"
if [[ -f "$OUT/dump/manifest.json" && -f "$OUT/dump/model.keras" ]]; then
  echo "==> $OUT/dump is pre-trained (--force redoes it)"
else
  rm -rf "$OUT"
  echo "==> pre-training (Keras, $PY) -> $OUT/dump"
  start=$SECONDS
  "$PY" scripts/mobilenet_pretrain.py "$OUT/dump" --per-class "${PER_CLASS:-1200}" --epochs "${EPOCHS:-2}" --seed "${SEED:-1234}"
  echo "==> pre-training took $((SECONDS - start)) s"
fi
if [[ -f "$OUT/model.json" && -f "$OUT/parity.json" ]]; then
  echo "==> $OUT/model.json is built and checked: $(cat "$OUT/parity.json" | tr -d '\n ')"
else
  echo "==> building the tfjs model -> $OUT"
  npx tsx scripts/mobilenet_build.ts "$OUT/dump" "$OUT"
fi
echo "python: $PY"
