#!/usr/bin/env python3
"""A tiny random Llama (2 blocks, hidden 32, 4 query / 2 key-value heads) for fast tests, as a
Hugging Face folder and as a GGUF twin of the same weights.

Weights are seeded random numbers, not a trained model: the tests only need a decoder whose every
parameter matters. The tokenizer is a byte-level BPE (digits split one by one, then GPT-2's byte
level split, as SmolLM2's) trained with Rust `tokenizers` on a few sentences, with SmolLM2's three
chat tokens as ids 0-2. The head is untied (the tests tie it themselves). The GGUF twin stores the
weights as llama.cpp's converter would: q/k rows permuted for interleaved RoPE, embeddings Q8_0,
attention Q4_1 and Q4_0, the MLP Q4_1 and F16, the head BF16, norms F32.

Usage (inside .venv-text, with the `gguf` package): python scripts/make_tiny_llama.py [OUT_FOLDER [OUT_GGUF]]
"""
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parent.parent
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CORPUS = [
    "Hello world, hello there.",
    "The cat sat on the mat and the dog sat on the log.",
    "Prices rose 12% in 2024, then fell in 2025!",
    "What is the capital of France? The capital of France is Paris.",
    "A quick brown fox jumps over the lazy dog.",
    "user assistant system: you are a helpful assistant.",
]
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": None,  # from the tokenizer
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "hidden_act": "silu",
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "attention_bias": False,
    "mlp_bias": False,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
    "torch_dtype": "float32",
}
BLOCK = {
    "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def GGUF_NAMES(cfg):  # noqa: N802 (read by llama_reference.py)
    """HF parameter name -> GGUF tensor name."""
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    for i in range(cfg["num_hidden_layers"]):
        for hf, g in BLOCK.items():
            names[f"model.layers.{i}.{hf}.weight"] = f"blk.{i}.{g}.weight"
    return names


def tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def weights(cfg, rng):
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    q, kv = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
    f = lambda *shape, scale=0.3: (rng.standard_normal(shape) * scale).astype(np.float32)
    gamma = lambda: (1 + rng.standard_normal(H) * 0.1).astype(np.float32)
    p = {"model.embed_tokens.weight": f(V, H, scale=1.0), "model.norm.weight": gamma(), "lm_head.weight": f(V, H)}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        for name, shape in {"self_attn.q_proj": (q, H), "self_attn.k_proj": (kv, H), "self_attn.v_proj": (kv, H), "self_attn.o_proj": (H, q),
                            "mlp.gate_proj": (I, H), "mlp.up_proj": (I, H), "mlp.down_proj": (H, I)}.items():
            p[pre + name + ".weight"] = f(*shape)  # PyTorch [out, in]
        p[pre + "input_layernorm.weight"] = gamma()
        p[pre + "post_attention_layernorm.weight"] = gamma()
    return p


def permute(w, heads):
    """llama.cpp's convert_hf_to_gguf.py permute: rows reordered for interleaved-pair RoPE."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, cfg, p, tok):
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFWriter
    from gguf.quants import quantize

    types = {"token_embd": Q.Q8_0, "output": Q.BF16, "attn_v": Q.Q4_0, "ffn_down": Q.F16, "attn_norm": Q.F32, "ffn_norm": Q.F32, "output_norm": Q.F32}
    w = GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_rope_dimension_count(cfg["head_dim"])
    w.add_vocab_size(cfg["vocab_size"])
    vocab = tok.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    model = json.loads(tok.to_str())["model"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in SPECIAL else 1 for t in tokens])
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in model["merges"]])
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_pad_token_id(cfg["pad_token_id"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)
    for hf, g in GGUF_NAMES(cfg).items():
        t = p[hf]
        if g.endswith("attn_q.weight"):
            t = permute(t, cfg["num_attention_heads"])
        elif g.endswith("attn_k.weight"):
            t = permute(t, cfg["num_key_value_heads"])
        kind = g.split(".")[-2] if g.startswith("blk.") else g.split(".")[0]
        qt = types.get(kind, Q.Q4_1)
        if qt == Q.F32:
            w.add_tensor(g, t.astype(np.float32))
        elif qt == Q.F16:
            w.add_tensor(g, t.astype(np.float16))
        else:
            w.add_tensor(g, quantize(t, qt), raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "test" / "fixtures" / "text" / "tiny-llama"
    gguf_out = Path(sys.argv[2]) if len(sys.argv) > 2 else out.parent / "tiny-llama.gguf"
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer()
    cfg = dict(CONFIG, vocab_size=tok.get_vocab_size())
    p = weights(cfg, np.random.default_rng(20261130))
    save_file(p, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "GPT2Tokenizer", "add_bos_token": False, "model_max_length": cfg["max_position_embeddings"],
        "bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>", "unk_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": False, "chat_template": CHAT_TEMPLATE,
    }, indent=2) + "\n")
    write_gguf(gguf_out, cfg, p, tok)
    print(f"{out}: vocab {cfg['vocab_size']}, " + ", ".join(sorted(x.name for x in out.iterdir())) + f"; {gguf_out}")


if __name__ == "__main__":
    main()
