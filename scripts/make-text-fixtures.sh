#!/usr/bin/env bash
# Regenerate the committed text-model fixtures under test/fixtures/text/:
#   tiny-bert/                 a tiny random BERT folder (scripts/make_tiny_bert.py)
#   tiny-bert-reference.json   its reference embeddings (scripts/text_reference.py)
#   tiny-roberta/, tiny-distilbert/ and their -reference.json: the same sizes in those families' layouts
#   minilm-reference.json      the real MiniLM's, when `npm run models:text` has laid it out
#   tiny-llama/, tiny-llama.gguf   a tiny random Llama folder and its GGUF twin (scripts/make_tiny_llama.py)
#   tiny-llama-reference.json  their reference logits and greedy tokens (scripts/llama_reference.py)
#   tiny-llama-lora/, tiny-llama-lora-reference.json   a fixed PEFT LoRA adapter for it, and its logits,
#                              masked causal loss and LoRA gradients (scripts/lora_reference.py)
#   smollm2-reference.json     SmolLM2's, when `npm run models:gpt` has placed its GGUF
#   chat-reference.json        chat examples rendered by Python's jinja2 and tokenized by Rust tokenizers (scripts/chat_reference.py)
# NumPy, safetensors, Rust tokenizers, gguf and jinja2 go into the git-ignored .venv-text (PyTorch is not needed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv-text
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import numpy, safetensors, tokenizers, gguf, jinja2' 2>/dev/null; then
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'numpy>=1.26' 'safetensors>=0.4' 'tokenizers>=0.19' 'gguf==0.19.0' 'jinja2==3.1.6'
fi
OUT=test/fixtures/text
"$VENV/bin/python" scripts/make_tiny_bert.py "$OUT/tiny-bert"
"$VENV/bin/python" scripts/text_reference.py "$OUT/tiny-bert" "$OUT/tiny-bert-reference.json" --pooler
for family in roberta distilbert; do
  "$VENV/bin/python" scripts/make_tiny_bert.py "$OUT/tiny-$family" --family "$family"
  "$VENV/bin/python" scripts/text_reference.py "$OUT/tiny-$family" "$OUT/tiny-$family-reference.json" $([[ $family == roberta ]] && echo --pooler)
done
MINILM=.cache/models/all-MiniLM-L6-v2
if [[ -f "$MINILM/model.safetensors" ]]; then
  "$VENV/bin/python" scripts/text_reference.py "$MINILM" "$OUT/minilm-reference.json"
else
  echo "make-text-fixtures: $MINILM is absent (npm run models:text); kept the committed minilm-reference.json" >&2
fi
"$VENV/bin/python" scripts/make_tiny_llama.py "$OUT/tiny-llama" "$OUT/tiny-llama.gguf"
"$VENV/bin/python" scripts/llama_reference.py tiny "$OUT/tiny-llama" "$OUT/tiny-llama.gguf" "$OUT/tiny-llama-reference.json"
"$VENV/bin/python" scripts/lora_reference.py "$OUT/tiny-llama" "$OUT/tiny-llama-lora" "$OUT/tiny-llama-lora-reference.json"
"$VENV/bin/python" scripts/chat_reference.py "$OUT/tiny-llama" "$OUT/chat-reference.json"
SMOLLM2=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [[ -f "$SMOLLM2" ]]; then
  "$VENV/bin/python" scripts/llama_reference.py smollm2 "$SMOLLM2" "$OUT/smollm2-reference.json"
else
  echo "make-text-fixtures: $SMOLLM2 is absent (npm run models:gpt); kept the committed smollm2-reference.json" >&2
fi
