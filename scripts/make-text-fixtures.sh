#!/usr/bin/env bash
# Regenerate the committed text-model fixtures under test/fixtures/text/:
#   tiny-bert/                 a tiny random BERT folder (scripts/make_tiny_bert.py)
#   tiny-bert-reference.json   its reference embeddings (scripts/text_reference.py)
#   minilm-reference.json      the real MiniLM's, when `npm run models:text` has laid it out
# NumPy, safetensors and Rust tokenizers go into the git-ignored .venv-text (PyTorch is not needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv-text
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import numpy, safetensors, tokenizers' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'numpy>=1.26' 'safetensors>=0.4' 'tokenizers>=0.19'
fi
OUT=test/fixtures/text
"$VENV/bin/python" scripts/make_tiny_bert.py "$OUT/tiny-bert"
"$VENV/bin/python" scripts/text_reference.py "$OUT/tiny-bert" "$OUT/tiny-bert-reference.json" --pooler
MINILM=.cache/models/all-MiniLM-L6-v2
if [[ -f "$MINILM/model.safetensors" ]]; then
  "$VENV/bin/python" scripts/text_reference.py "$MINILM" "$OUT/minilm-reference.json"
else
  echo "make-text-fixtures: $MINILM is absent (npm run models:text); kept the committed minilm-reference.json" >&2
fi
