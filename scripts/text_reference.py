#!/usr/bin/env python3
"""Reference sentence embeddings from an independent BERT implementation (NumPy, float64).

Tokenizes fixed sentences with Hugging Face's Rust `tokenizers`, runs the encoder written here from
the Hugging Face BertModel definition (no PyTorch), mean-pools the last hidden states over the
attention mask and L2-normalises them, as sentence-transformers does for all-MiniLM-L6-v2. The
fixture it writes is what test/model/bert-parity.test.ts compares tunespec's encoder against.

Usage (inside .venv-text, made by scripts/make-text-fixtures.sh):
  python scripts/text_reference.py MODEL_FOLDER OUT.json [--pooler]
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The movie was absolutely wonderful.",
    "I hated every minute of this film.",
    "A guitar is a musical instrument.",
    "The stock market fell sharply today.",
    "Café déjà vu: naïve résumé!",
    "Unbelievably overcomplicated antidisestablishmentarianism.",
    "It's 3:45pm and the meeting is in room 101.",
    "What time does the train to Paris leave?",
    "Dogs are loyal companions.",
    "Cats sleep for most of the day.",
    "This is not bad at all, actually quite good.",
    "The quick brown fox jumps over the lazy dog.",
    "Hello world",
    "a",
    "Neural networks learn representations from data.",
    "Please visit https://example.com/docs?page=2 for details.",
    "THE WEATHER IS NICE TODAY",
    "She said: \"I'll be there at 9.\"",
    "Rain, rain, go away; come again another day.",
    "The film is a film about films, and it is filmed well.",
]


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def linear(x, w, b):
    # PyTorch nn.Linear: weight is [out, in].
    return x @ w.T + b


def encode(p, cfg, ids, types):
    """Hidden states [T, H] of one unpadded sequence (no mask needed: every token is real)."""
    eps = cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["num_attention_heads"]
    H = cfg["hidden_size"]
    d = H // heads
    T = len(ids)
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:T] + p["embeddings.token_type_embeddings.weight"][types]
    x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        w = lambda n: p[f"encoder.layer.{i}.{n}"]
        q = linear(x, w("attention.self.query.weight"), w("attention.self.query.bias")).reshape(T, heads, d).transpose(1, 0, 2)
        k = linear(x, w("attention.self.key.weight"), w("attention.self.key.bias")).reshape(T, heads, d).transpose(1, 0, 2)
        v = linear(x, w("attention.self.value.weight"), w("attention.self.value.bias")).reshape(T, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(T, H)
        h = layer_norm(linear(ctx, w("attention.output.dense.weight"), w("attention.output.dense.bias")) + x,
                       w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias"), eps)
        inter = gelu(linear(h, w("intermediate.dense.weight"), w("intermediate.dense.bias")))
        x = layer_norm(linear(inter, w("output.dense.weight"), w("output.dense.bias")) + h,
                       w("output.LayerNorm.weight"), w("output.LayerNorm.bias"), eps)
    return x


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main():
    folder = Path(sys.argv[1])
    out = Path(sys.argv[2])
    with_pooler = "--pooler" in sys.argv[3:]
    cfg = json.loads((folder / "config.json").read_text())
    p = {k: v.astype(np.float64) for k, v in load_file(str(folder / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    rows = []
    for text in SENTENCES:
        enc = tok.encode(text)
        h = encode(p, cfg, enc.ids, enc.type_ids)
        mean = h.mean(0)
        row = {
            "text": text,
            "input_ids": enc.ids,
            "token_type_ids": enc.type_ids,
            "embedding": [round(float(x), 8) for x in mean / np.linalg.norm(mean)],
        }
        if with_pooler:
            pooled = np.tanh(linear(h[0], p["pooler.dense.weight"], p["pooler.dense.bias"]))
            row["pooler_output"] = [round(float(x), 8) for x in pooled]
        rows.append(row)
    fixture = {
        "about": "mean-pooled, L2-normalised sentence embeddings from scripts/text_reference.py (NumPy float64); ids from Rust tokenizers",
        "model": folder.name,
        "sha256": {n: sha256(folder / n) for n in ("config.json", "model.safetensors", "tokenizer.json")},
        "sentences": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out}: {len(rows)} sentences, {len(rows[0]['embedding'])}-d")


if __name__ == "__main__":
    main()
