#!/usr/bin/env python3
"""An independent Llama forward pass (NumPy, float64), and the reference fixtures tunespec's Llama is checked against.

Written from the Hugging Face LlamaModel definition (no PyTorch): RMSNorm, rotary embeddings in
HF's rotate-half convention, grouped-query attention by repeating key/value heads (repeat_kv), a
causal mask, SwiGLU, an LM head tied or not. Tokens come from Rust `tokenizers`.

  python scripts/llama_reference.py tiny FOLDER GGUF OUT.json
      The tiny random Llama folder (scripts/make_tiny_llama.py) and its GGUF twin: every position's
      logits of a few prompts, greedy tokens, and the last position's logits with the head tied to
      the embeddings and for the GGUF; the GGUF's come from the folder's weights quantised row-wise with the `gguf` package,
      which needs no knowledge of GGUF's q/k row permutation (rows are quantised independently).
  python scripts/llama_reference.py smollm2 FILE.gguf OUT.json
      SmolLM2 from its GGUF, dequantised with the `gguf` package: next-token logits (top 10 and a
      fixed sample of ids) for a few prompts, the greedy answer to a chat question, and per-tensor
      sums of the dequantised weights.
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

TINY_PROMPTS = [
    "Hello world",
    "The cat sat on the mat.",
    "Prices rose 12% in 2024!",
    "<|im_start|>user\nhi<|im_end|>\n",
]
SMOLLM_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, there was a little",
]
QUESTION = "What is the capital of France?"


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope(x, pos, theta):
    """x [heads, T, d] rotated the Hugging Face way: x·cos + rotate_half(x)·sin."""
    d = x.shape[-1]
    inv = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    ang = np.outer(pos, inv)
    emb = np.concatenate([ang, ang], -1)
    rot = np.concatenate([-x[..., d // 2:], x[..., : d // 2]], -1)
    return x * np.cos(emb) + rot * np.sin(emb)


def forward(p, cfg, ids):
    """Logits [T, vocab] of one unpadded sequence."""
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    causal = np.triu(np.full((T, T), -np.inf), 1)
    x = p["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        w = lambda n: p[f"model.layers.{i}.{n}"]
        h = rms_norm(x, w("input_layernorm.weight"), eps)
        q = (h @ w("self_attn.q_proj.weight").T).reshape(T, H, d).transpose(1, 0, 2)
        k = (h @ w("self_attn.k_proj.weight").T).reshape(T, KV, d).transpose(1, 0, 2)
        v = (h @ w("self_attn.v_proj.weight").T).reshape(T, KV, d).transpose(1, 0, 2)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k, v = np.repeat(k, H // KV, axis=0), np.repeat(v, H // KV, axis=0)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d) + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(T, H * d)
        x = x + ctx @ w("self_attn.o_proj.weight").T
        h = rms_norm(x, w("post_attention_layernorm.weight"), eps)
        x = x + (silu(h @ w("mlp.gate_proj.weight").T) * (h @ w("mlp.up_proj.weight").T)) @ w("mlp.down_proj.weight").T
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    return rms_norm(x, p["model.norm.weight"], eps) @ head.T


def greedy(p, cfg, ids, n, stop=()):
    ids, out = list(ids), []
    for _ in range(n):
        nxt = int(np.argmax(forward(p, cfg, ids)[-1]))
        if nxt in stop:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rounded(a, places=6):
    return [round(float(v), places) for v in np.asarray(a).reshape(-1)]


def tiny(folder, gguf_path, out):
    from gguf import GGUFReader
    from gguf.quants import dequantize, quantize
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    cfg = json.loads((folder / "config.json").read_text())
    p = {k: v.astype(np.float64) for k, v in load_file(str(folder / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    # The GGUF twin's weights: each folder tensor through the ggml type the GGUF stores it in.
    reader = GGUFReader(str(gguf_path))
    qtypes = {t.name: t.tensor_type for t in reader.tensors}
    sys.path.insert(0, str(Path(__file__).parent))
    from make_tiny_llama import GGUF_NAMES  # noqa: E402
    pq = {hf: dequantize(quantize(p[hf].astype(np.float32), qtypes[g]), qtypes[g]).astype(np.float64) for hf, g in GGUF_NAMES(cfg).items()}
    tied_cfg = dict(cfg, tie_word_embeddings=True)
    rows = []
    for text in TINY_PROMPTS:
        ids = tok.encode(text).ids
        rows.append({
            "text": text,
            "input_ids": ids,
            "logits": rounded(forward(p, cfg, ids), 5),
            # The last position only: the other variants change the weights, not the sequence handling.
            "tied_logits": rounded(forward(p, tied_cfg, ids)[-1], 5),
            "gguf_logits": rounded(forward(pq, cfg, ids)[-1], 5),
            "greedy": greedy(p, cfg, ids, 8),
        })
    fixture = {
        "about": "logits of every position from scripts/llama_reference.py (NumPy float64); ids from Rust tokenizers",
        "sha256": {n: sha256(folder / n) for n in ("config.json", "model.safetensors", "tokenizer.json")} | {"gguf": sha256(gguf_path)},
        "vocab_size": cfg["vocab_size"],
        "prompts": rows,
    }
    out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out}: {len(rows)} prompts")


def unpermute(w, heads):
    """Undo llama.cpp's convert permute (interleaved-pair RoPE rows) back to Hugging Face row order."""
    rows = w.shape[0]
    back = w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    # llama.cpp's own permute, from convert_hf_to_gguf.py, must give the GGUF rows again.
    again = back.reshape(heads, 2, rows // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
    assert np.array_equal(again, w)
    return back


def smollm2(gguf_path, out):
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    r = GGUFReader(str(gguf_path))
    f = lambda k: r.fields[k].contents()
    cfg = {
        "num_hidden_layers": f("llama.block_count"),
        "hidden_size": f("llama.embedding_length"),
        "num_attention_heads": f("llama.attention.head_count"),
        "num_key_value_heads": f("llama.attention.head_count_kv"),
        "rms_norm_eps": float(f("llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(f("llama.rope.freq_base")),
        "tie_word_embeddings": "output.weight" not in [t.name for t in r.tensors],
    }
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight", "output.weight": "lm_head.weight"}
    block = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    p, sums = {}, {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).reshape([int(n) for n in reversed(t.shape)])
        sums[t.name] = [float(w.astype(np.float64).sum()), float(np.abs(w.astype(np.float64)).sum())]
        parts = t.name.split(".")
        hf = names.get(t.name) or f"model.layers.{parts[1]}.{block[parts[2]]}.{parts[3]}"
        if parts[-2] == "attn_q":
            w = unpermute(w, cfg["num_attention_heads"])
        elif parts[-2] == "attn_k":
            w = unpermute(w, cfg["num_key_value_heads"])
        p[hf] = w.astype(np.float64)
    # The tokenizer built here from the GGUF's vocabulary and merges, independently of tunespec's.
    tokens = f("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ")) for m in f("tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE({t: i for i, t in enumerate(tokens)}, merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    types = f("tokenizer.ggml.token_type")
    tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty == 3])
    sample = list(range(0, len(tokens), 96))
    rows = []
    for text in SMOLLM_PROMPTS:
        ids = tok.encode(text).ids
        logits = forward(p, cfg, ids)[-1]
        top = np.argsort(-logits)[:10]
        rows.append({"text": text, "input_ids": ids, "top": [[int(i), round(float(logits[i]), 5)] for i in top],
                     "sample_ids": sample, "sample_logits": rounded(logits[sample], 5)})
    # The chat template's rendering for one user message (SmolLM2's template adds its default system prompt).
    system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    chat = f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{QUESTION}<|im_end|>\n<|im_start|>assistant\n"
    chat_ids = tok.encode(chat).ids
    eos = int(f("tokenizer.ggml.eos_token_id"))
    answer = greedy(p, cfg, chat_ids, 24, stop=(eos,))
    fixture = {
        "about": "SmolLM2-135M-Instruct Q4_1 through scripts/llama_reference.py (NumPy float64, weights dequantised by the gguf package); ids from Rust tokenizers",
        "gguf_sha256": sha256(gguf_path),
        "prompts": rows,
        "chat": {"question": QUESTION, "text": chat, "input_ids": chat_ids, "greedy": answer, "answer": tok.decode(answer)},
        "tensor_sums": sums,
    }
    out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out}: {len(rows)} prompts; greedy answer {fixture['chat']['answer']!r}")


def main():
    if sys.argv[1] == "tiny":
        tiny(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "smollm2":
        smollm2(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit(f"usage: {sys.argv[0]} tiny FOLDER GGUF OUT.json | smollm2 FILE.gguf OUT.json")


if __name__ == "__main__":
    main()
