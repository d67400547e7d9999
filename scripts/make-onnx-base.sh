#!/usr/bin/env bash
# Regenerate models/onnx-base/model.onnx with a peer exporter (tf2onnx), in a project-local venv.
# Usage: bash scripts/make-onnx-base.sh [OUT]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv-onnx-peer
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import tensorflow, tf2onnx' >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet 'tensorflow-cpu==2.21.*' 'tf2onnx==1.17.0' 'onnx==1.23.*'
fi
"$VENV/bin/python" scripts/make_onnx_base.py "${1:-models/onnx-base/model.onnx}"
