#!/usr/bin/env python3
"""A tiny random BERT (2 blocks, hidden 32) in the Hugging Face folder layout, for fast tests.

Weights are seeded random numbers, not a trained model: the tests only need an encoder whose every
parameter matters. The tokenizer is an uncased WordPiece built with Rust `tokenizers` over a small
vocabulary (letters, word pieces and the words of scripts/text_reference.py's sentences), so any
text tokenizes. Writes test/fixtures/text/tiny-bert/ (or the folder given).

Usage (inside .venv-text): python scripts/make_tiny_bert.py [OUT_FOLDER]
"""
import json
import re
import string
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

sys.path.insert(0, str(Path(__file__).parent))
from text_reference import SENTENCES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "vocab_size": None,  # from the vocabulary below
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 128,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
}
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def vocabulary():
    letters = list(string.ascii_lowercase + string.digits)
    punct = list(string.punctuation)
    words = sorted({w for s in SENTENCES for w in re.findall(r"[a-z]+", s.lower()) if len(w) > 1})
    return SPECIAL + letters + punct + [f"##{c}" for c in letters] + ["##ing", "##ed", "##ly", "##s"] + words


def tokenizer(vocab):
    tok = Tokenizer(WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def weights(cfg, rng):
    H, I, V, P, T = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["max_position_embeddings"], cfg["type_vocab_size"]
    f = lambda *shape, scale=0.2: (rng.standard_normal(shape) * scale).astype(np.float32)
    gamma = lambda: (1 + rng.standard_normal(H) * 0.1).astype(np.float32)
    p = {
        "embeddings.word_embeddings.weight": f(V, H, scale=0.5),
        "embeddings.position_embeddings.weight": f(P, H),
        "embeddings.token_type_embeddings.weight": f(T, H),
        "embeddings.LayerNorm.weight": gamma(),
        "embeddings.LayerNorm.bias": f(H, scale=0.05),
        # Saved by PyTorch as a buffer; the loader must skip it.
        "embeddings.position_ids": np.arange(P, dtype=np.int64)[None, :],
    }
    for i in range(cfg["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."
        for name, (o, n) in {
            "attention.self.query": (H, H), "attention.self.key": (H, H), "attention.self.value": (H, H),
            "attention.output.dense": (H, H), "intermediate.dense": (I, H), "output.dense": (H, I),
        }.items():
            p[pre + name + ".weight"] = f(o, n)  # PyTorch [out, in]
            p[pre + name + ".bias"] = f(o, scale=0.05)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            p[pre + ln + ".weight"] = gamma()
            p[pre + ln + ".bias"] = f(H, scale=0.05)
    p["pooler.dense.weight"] = f(H, H)
    p["pooler.dense.bias"] = f(H, scale=0.05)
    return p


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "test" / "fixtures" / "text" / "tiny-bert"
    out.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    cfg = dict(CONFIG, vocab_size=len(vocab))
    save_file(weights(cfg, np.random.default_rng(20261130)), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tokenizer(vocab).save(str(out / "tokenizer.json"))
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 128,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps({
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=2) + "\n")
    print(f"{out}: vocab {len(vocab)}, " + ", ".join(sorted(p.name for p in out.iterdir())))


if __name__ == "__main__":
    main()
