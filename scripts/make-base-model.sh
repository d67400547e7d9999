#!/usr/bin/env bash
# Regenerate the shipped base model models/fashion-base/ end to end:
#   1. project-local venv .venv-pretrain/ (reuses a system tensorflow if present,
#      else pip-installs tensorflow-cpu 2.21),
#   2. Keras pre-training on Fashion-MNIST train, classes 0-4 (scripts/pretrain_base.py),
#   3. tfjs rebuild + weight copy + reload/parity check (scripts/build_base_model.ts).
# Usage: bash scripts/make-base-model.sh [OUT_DIR]     (or: npm run make:base-model)
# Env: PYTHON (default python3), EPOCHS (default 4), SEED (default 1234), KEEP_DUMP=1 to keep the temp dump.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT_DIR="${1:-models/fashion-base}"
PYTHON="${PYTHON:-python3}"
VENV=.venv-pretrain

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import tensorflow' >/dev/null 2>&1; then
  echo "==> installing tensorflow-cpu into $VENV"
  "$VENV/bin/pip" install --quiet 'tensorflow-cpu==2.21.*'
fi

DUMP="$(mktemp -d -t fashion-base-dump.XXXXXX)"
if [[ "${KEEP_DUMP:-0}" != 1 ]]; then
  trap 'rm -rf "$DUMP"' EXIT
fi

echo "==> pre-training (Keras) -> $DUMP"
start=$SECONDS
"$VENV/bin/python" scripts/pretrain_base.py "$DUMP" --epochs "${EPOCHS:-4}" --seed "${SEED:-1234}"
echo "==> pre-training took $((SECONDS - start))s"

echo "==> building tfjs model -> $OUT_DIR"
npx tsx scripts/build_base_model.ts "$DUMP" "$OUT_DIR"
ls -l "$OUT_DIR"
