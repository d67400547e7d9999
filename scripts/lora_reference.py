#!/usr/bin/env python3
"""An independent LoRA reference (NumPy, float64) for the tiny Llama: the adapter tunespec's LoRA is checked against.

Writes a fixed, seeded LoRA adapter for the tiny Llama folder in PEFT's layout (adapter_config.json
+ adapter_model.safetensors: `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`
[r, in], `lora_B` [out, r]), then, with PEFT's LoRA forward written out here (each targeted
nn.Linear gives x·Wᵀ + (x·Aᵀ)·Bᵀ·alpha/r; no dropout, as in eval mode):
  - every position's logits of a few prompts with the adapter, and greedy tokens;
  - the masked causal LM loss of a fixed right-padded batch: the mean over (row, t) with
    label_mask[t+1] = 1 of -log softmax(logits[t])[ids[t+1]] (Hugging Face's token mean);
  - that loss's gradient w.r.t. a few LoRA matrices, by central finite differences in float64.

Usage (inside .venv-text): python scripts/lora_reference.py BASE_FOLDER ADAPTER_OUT_FOLDER OUT.json
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, str(Path(__file__).parent))
from llama_reference import rms_norm, rope, silu  # noqa: E402

RANK, ALPHA, DROPOUT = 4, 8, 0.1
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"]  # up_proj left out: a projection without a branch
MODULE = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
PROMPTS = ["Hello world", "The cat sat on the mat."]
# The loss batch: right padding with id 2, the label mask on a "completion" part of each row.
BATCH = [
    {"ids": [1, 40, 41, 42, 43, 44, 45, 46, 47, 2], "labels_from": 5},
    {"ids": [1, 100, 101, 102, 103, 104, 2], "labels_from": 3},
]
GRAD_OF = [
    "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight",
    "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight",
    "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
]
PREFIX = "base_model.model."


def forward(p, lora, cfg, ids):
    """Logits [T, vocab] of one unpadded sequence; `lora` maps a module name to its (A [r, in], B [out, r])."""
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps, theta = cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
    scale = ALPHA / RANK
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    causal = np.triu(np.full((T, T), -np.inf), 1)
    x = p["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        def lin(name, h):
            module = f"model.layers.{i}.{MODULE[name]}.{name}"
            y = h @ p[f"{module}.weight"].T
            if module in lora:
                a, b = lora[module]
                y = y + (h @ a.T) @ b.T * scale
            return y
        w = lambda n: p[f"model.layers.{i}.{n}"]
        h = rms_norm(x, w("input_layernorm.weight"), eps)
        q = lin("q_proj", h).reshape(T, H, d).transpose(1, 0, 2)
        k = lin("k_proj", h).reshape(T, KV, d).transpose(1, 0, 2)
        v = lin("v_proj", h).reshape(T, KV, d).transpose(1, 0, 2)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k, v = np.repeat(k, H // KV, axis=0), np.repeat(v, H // KV, axis=0)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d) + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        ctx = (s @ v).transpose(1, 0, 2).reshape(T, H * d)
        x = x + lin("o_proj", ctx)
        h = rms_norm(x, w("post_attention_layernorm.weight"), eps)
        x = x + lin("down_proj", silu(lin("gate_proj", h)) * lin("up_proj", h))
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    return rms_norm(x, p["model.norm.weight"], eps) @ head.T


def batch_arrays():
    T = max(len(r["ids"]) for r in BATCH)
    ids = [r["ids"] + [2] * (T - len(r["ids"])) for r in BATCH]
    mask = [[1] * len(r["ids"]) + [0] * (T - len(r["ids"])) for r in BATCH]
    labels = [[1 if r["labels_from"] <= t < len(r["ids"]) else 0 for t in range(T)] for r in BATCH]
    return ids, mask, labels


def loss_of(p, lora, cfg):
    """Mean over counted tokens of the next-token cross-entropy; each row run unpadded (right padding moves nothing)."""
    ids, mask, labels = batch_arrays()
    total, count = 0.0, 0
    for row, m, lab in zip(ids, mask, labels):
        n = sum(m)
        logits = forward(p, lora, cfg, row[:n])
        for t in range(n - 1):
            if lab[t + 1]:
                z = logits[t]
                zmax = z.max()
                total += zmax + math.log(np.exp(z - zmax).sum()) - z[row[t + 1]]
                count += 1
    return total / count, count


def make_adapter(cfg, out):
    rng = np.random.default_rng(16)
    tensors = {}
    for i in range(cfg["num_hidden_layers"]):
        for t in TARGETS:
            module = f"model.layers.{i}.{MODULE[t]}.{t}"
            out_dim, in_dim = {
                "q_proj": (cfg["num_attention_heads"] * cfg["head_dim"], cfg["hidden_size"]),
                "k_proj": (cfg["num_key_value_heads"] * cfg["head_dim"], cfg["hidden_size"]),
                "v_proj": (cfg["num_key_value_heads"] * cfg["head_dim"], cfg["hidden_size"]),
                "o_proj": (cfg["hidden_size"], cfg["num_attention_heads"] * cfg["head_dim"]),
                "gate_proj": (cfg["intermediate_size"], cfg["hidden_size"]),
                "down_proj": (cfg["hidden_size"], cfg["intermediate_size"]),
            }[t]
            # A as PEFT draws it; B non-zero (a trained adapter), so the branch changes the output.
            bound = 1 / math.sqrt(in_dim)
            tensors[f"{PREFIX}{module}.lora_A.weight"] = rng.uniform(-bound, bound, (RANK, in_dim)).astype(np.float32)
            tensors[f"{PREFIX}{module}.lora_B.weight"] = (rng.standard_normal((out_dim, RANK)) * 0.1).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "adapter_model.safetensors"), metadata={"format": "pt"})
    config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": "tiny-llama",
        "r": RANK, "lora_alpha": ALPHA, "lora_dropout": DROPOUT, "target_modules": TARGETS,
        "layers_to_transform": list(range(cfg["num_hidden_layers"])), "layers_pattern": None, "bias": "none",
        "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True, "modules_to_save": None,
        "rank_pattern": {}, "alpha_pattern": {}, "use_rslora": False, "use_dora": False, "revision": None,
    }
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return tensors


def lora_of(tensors):
    lora = {}
    for name, v in tensors.items():
        module = name[len(PREFIX):].rsplit(".lora_", 1)[0]
        a, b = lora.get(module, (None, None))
        v = v.astype(np.float64)
        lora[module] = (v, b) if ".lora_A." in name else (a, v)
    return lora


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rounded(a, places=6):
    return [round(float(v), places) for v in np.asarray(a).reshape(-1)]


def main():
    if len(sys.argv) != 4:
        sys.exit(f"usage: {sys.argv[0]} BASE_FOLDER ADAPTER_OUT_FOLDER OUT.json")
    from tokenizers import Tokenizer

    folder, adapter, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    cfg = json.loads((folder / "config.json").read_text())
    p = {k: v.astype(np.float64) for k, v in load_file(str(folder / "model.safetensors")).items()}
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tensors = make_adapter(cfg, adapter)
    lora = lora_of(tensors)
    prompts = []
    for text in PROMPTS:
        ids = tok.encode(text).ids
        logits = forward(p, lora, cfg, ids)
        seq, greedy = list(ids), []
        for _ in range(8):
            nxt = int(np.argmax(forward(p, lora, cfg, seq)[-1]))
            greedy.append(nxt)
            seq.append(nxt)
        base_diff = float(np.abs(logits - forward(p, {}, cfg, ids)).max())
        prompts.append({"text": text, "input_ids": ids, "logits": rounded(logits, 5), "greedy": greedy, "max_abs_change_from_base": round(base_diff, 4)})
    loss, count = loss_of(p, lora, cfg)
    grads = []
    eps = 1e-5
    for name in GRAD_OF:
        module = name[len(PREFIX):].rsplit(".lora_", 1)[0]
        which = 0 if ".lora_A." in name else 1
        base = lora[module][which]
        g = np.zeros_like(base)
        for idx in np.ndindex(*base.shape):
            vals = []
            for sign in (1, -1):
                m = base.copy()
                m[idx] += sign * eps
                pair = list(lora[module])
                pair[which] = m
                vals.append(loss_of(p, {**lora, module: tuple(pair)}, cfg)[0])
            g[idx] = (vals[0] - vals[1]) / (2 * eps)
        grads.append({"name": name, "shape": list(base.shape), "values": rounded(g, 8)})
    ids, mask, labels = batch_arrays()
    fixture = {
        "about": "tiny Llama + the LoRA adapter beside it, through scripts/lora_reference.py (NumPy float64; gradients by central differences)",
        "sha256": {"model.safetensors": sha256(folder / "model.safetensors")} | {n: sha256(adapter / n) for n in ("adapter_config.json", "adapter_model.safetensors")},
        "scale": ALPHA / RANK,
        "prompts": prompts,
        "loss": {"input_ids": ids, "attention_mask": mask, "label_mask": labels, "loss": round(loss, 8), "tokens": count},
        "grads": grads,
    }
    out.write_text(json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{out}: {len(prompts)} prompts, loss {loss:.6f} over {count} tokens, {len(grads)} gradients")


if __name__ == "__main__":
    main()
