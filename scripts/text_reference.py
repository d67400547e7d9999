#!/usr/bin/env python3
"""Reference sentence embeddings from an independent BERT implementation (NumPy, float64).

Tokenizes fixed sentences with Hugging Face's Rust `tokenizers`, runs the encoder written here from
the Hugging Face BertModel definition (no PyTorch), mean-pools the last hidden states over the
attention mask and L2-normalises them, as sentence-transformers does for all-MiniLM-L6-v2. The
fixture it writes is what test/model/bert-encoder.test.ts compares tunespec's encoder against.

RoBERTa and DistilBERT folders (config.json model_type) are read as their Hugging Face modeling
code defines them: RoBERTa's position ids from create_position_ids_from_input_ids (padding_idx + 1
on) and token type 0 for every token; DistilBERT's `transformer.layer.N` modules (q_lin, k_lin,
v_lin, out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm), no token types, LayerNorm
epsilon 1e-12, and a task checkpoint's `distilbert.` prefix.

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


# Each family's names for a block's parts, as its modeling code has them.
BLOCKS = {
    "bert": ("encoder.layer", {
        "query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
        "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
        "inter": "intermediate.dense", "out": "output.dense", "out_norm": "output.LayerNorm",
    }),
    "distilbert": ("transformer.layer", {
        "query": "attention.q_lin", "key": "attention.k_lin", "value": "attention.v_lin",
        "attn_out": "attention.out_lin", "attn_norm": "sa_layer_norm",
        "inter": "ffn.lin1", "out": "ffn.lin2", "out_norm": "output_layer_norm",
    }),
}


def family_of(cfg):
    t = cfg["model_type"]
    return "distilbert" if t == "distilbert" else "roberta" if t in ("roberta", "xlm-roberta") else "bert"


def roberta_position_ids(ids, padding_idx):
    """transformers' create_position_ids_from_input_ids: real tokens count from padding_idx + 1."""
    mask = (np.asarray(ids) != padding_idx).astype(np.int64)
    return np.cumsum(mask) * mask + padding_idx


def encode(p, cfg, ids, types):
    """Hidden states [T, H] of one unpadded sequence (no mask needed: every token is real)."""
    family = family_of(cfg)
    distil = family == "distilbert"
    eps = 1e-12 if distil else cfg.get("layer_norm_eps", 1e-12)
    heads = cfg["n_heads"] if distil else cfg["num_attention_heads"]
    H = cfg["dim"] if distil else cfg["hidden_size"]
    layers = cfg["n_layers"] if distil else cfg["num_hidden_layers"]
    d = H // heads
    T = len(ids)
    positions = roberta_position_ids(ids, cfg.get("pad_token_id", 1)) if family == "roberta" else np.arange(T)
    x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][positions]
    if family == "bert":
        x = x + p["embeddings.token_type_embeddings.weight"][types]
    elif family == "roberta":
        x = x + p["embeddings.token_type_embeddings.weight"][np.zeros(T, dtype=np.int64)]
    x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], eps)
    prefix, n = BLOCKS["distilbert" if distil else "bert"]
    for i in range(layers):
        w = lambda part, param: p[f"{prefix}.{i}.{n[part]}.{param}"]
        q = linear(x, w("query", "weight"), w("query", "bias")).reshape(T, heads, d).transpose(1, 0, 2)
        k = linear(x, w("key", "weight"), w("key", "bias")).reshape(T, heads, d).transpose(1, 0, 2)
        v = linear(x, w("value", "weight"), w("value", "bias")).reshape(T, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(T, H)
        h = layer_norm(linear(ctx, w("attn_out", "weight"), w("attn_out", "bias")) + x, w("attn_norm", "weight"), w("attn_norm", "bias"), eps)
        inter = gelu(linear(h, w("inter", "weight"), w("inter", "bias")))
        x = layer_norm(linear(inter, w("out", "weight"), w("out", "bias")) + h, w("out_norm", "weight"), w("out_norm", "bias"), eps)
    return x


def encoder_params(raw, cfg):
    """The encoder's tensors under their module names: a task checkpoint's prefix (bert., roberta., distilbert.) dropped."""
    prefix = {"bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert."}[family_of(cfg)]
    if "embeddings.word_embeddings.weight" not in raw and prefix + "embeddings.word_embeddings.weight" in raw:
        raw = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
    return {k: v.astype(np.float64) for k, v in raw.items()}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main():
    folder = Path(sys.argv[1])
    out = Path(sys.argv[2])
    with_pooler = "--pooler" in sys.argv[3:]
    cfg = json.loads((folder / "config.json").read_text())
    p = encoder_params(load_file(str(folder / "model.safetensors")), cfg)
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
