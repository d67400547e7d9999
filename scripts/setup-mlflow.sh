#!/usr/bin/env bash
# Install the pinned MLflow server into .venv-mlflow, for the tests and for a local tracking
# server. Idempotent: returns at once when the installed pin matches requirements-mlflow.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sha256sum requirements-mlflow.txt | cut -d' ' -f1)
if [ -x .venv-mlflow/bin/mlflow ] && [ "$(cat .venv-mlflow/.pin 2>/dev/null)" = "$want" ]; then exit 0; fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "setup-mlflow: python3 with venv is needed (Debian: apt-get install python3-venv)" >&2
  exit 1
fi
echo "setup-mlflow: installing $(grep -v '^#' requirements-mlflow.txt) into .venv-mlflow (once)" >&2
python3 -m venv .venv-mlflow
.venv-mlflow/bin/pip install --quiet --disable-pip-version-check -r requirements-mlflow.txt
echo "$want" > .venv-mlflow/.pin
