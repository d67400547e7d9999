#!/usr/bin/env python3
"""A tiny random BERT (2 blocks, hidden 32) in the Hugging Face folder layout, for fast tests.

Weights are seeded random numbers, not a trained model: the tests only need an encoder whose every
parameter matters. The tokenizer is an uncased WordPiece built with Rust `tokenizers` over a small
vocabulary (letters, word pieces and the words of scripts/text_reference.py's sentences), so any
text tokenizes. Writes test/fixtures/text/tiny-bert/ (or the folder given).

With --family distilbert or roberta, the same sizes in those families' layouts:
- distilbert: a DistilBertForSequenceClassification checkpoint (`distilbert.` prefix, names
  `transformer.layer.N.attention.q_lin`…, no token types, no pooler, plus the task head's
  pre_classifier and classifier, which tunespec must leave unused), the BERT WordPiece tokenizer;
- roberta: a RobertaModel checkpoint (BERT's names, type vocabulary 1, pad_token_id 1 so positions
  start at row 2, max_position_embeddings 130 for 128 tokens, LayerNorm epsilon 1e-5) with a
  byte-level BPE tokenizer trained here on the same words, and RoBERTa's <s> </s> post-processor.

Usage (inside .venv-text): python scripts/make_tiny_bert.py [OUT_FOLDER] [--family bert|distilbert|roberta]
"""
import json
import re
import string
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, WordPiece

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


DISTILBERT_NAMES = {
    "attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin", "attention.self.value": "attention.v_lin",
    "attention.output.dense": "attention.out_lin", "attention.output.LayerNorm": "sa_layer_norm",
    "intermediate.dense": "ffn.lin1", "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm",
}


def distilbert_weights(cfg, rng):
    """BERT's random tensors renamed as DistilBertForSequenceClassification saves them."""
    bert_cfg = dict(cfg, type_vocab_size=1)
    out = {}
    for name, value in weights(bert_cfg, rng).items():
        if name.startswith(("pooler.", "embeddings.token_type_embeddings")):
            continue
        if name.startswith("encoder.layer."):
            i, rest = name[len("encoder.layer."):].split(".", 1)
            module, param = rest.rsplit(".", 1)
            name = f"transformer.layer.{i}.{DISTILBERT_NAMES[module]}.{param}"
        out["distilbert." + name] = value
    H = cfg["hidden_size"]
    f = lambda *shape: (rng.standard_normal(shape) * 0.2).astype(np.float32)
    out.update({"pre_classifier.weight": f(H, H), "pre_classifier.bias": f(H), "classifier.weight": f(2, H), "classifier.bias": f(2)})
    return out


def distilbert_config(vocab_size):
    return {
        "architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert", "vocab_size": vocab_size,
        "dim": 32, "n_layers": 2, "n_heads": 4, "hidden_dim": 64, "max_position_embeddings": 128,
        "dropout": 0.1, "attention_dropout": 0.1, "activation": "gelu", "sinusoidal_pos_embds": False,
        "pad_token_id": 0, "initializer_range": 0.02, "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
    }


ROBERTA_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def roberta_tokenizer():
    """Byte-level BPE as RoBERTa's, trained on the reference sentences' words; ids 0-4 are <s> <pad> </s> <unk> <mask>."""
    tok = Tokenizer(BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=ROBERTA_SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    corpus = SENTENCES + [" ".join(SENTENCES)] + ["The film was wonderful.", "The room was bad.", "Nice film.", "Hated it."]
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=False)
    return tok


def write_roberta(out, rng):
    tok = roberta_tokenizer()
    vocab_size = tok.get_vocab_size()
    assert [tok.token_to_id(t) for t in ROBERTA_SPECIAL] == [0, 1, 2, 3, 4]
    cfg = dict(CONFIG, model_type="roberta", architectures=["RobertaModel"], vocab_size=vocab_size, max_position_embeddings=130,
               type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    p = weights(cfg, rng)
    del p["embeddings.position_ids"]
    save_file(p, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tok.save(str(out / "tokenizer.json"))
    specials = {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}
    (out / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer", "model_max_length": 128, **specials}, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")
    return vocab_size


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    family = sys.argv[sys.argv.index("--family") + 1] if "--family" in sys.argv else "bert"
    args = [a for a in args if a != family]
    out = Path(args[0]) if args else ROOT / "test" / "fixtures" / "text" / ("tiny-bert" if family == "bert" else f"tiny-{family}")
    out.mkdir(parents=True, exist_ok=True)
    if family == "roberta":
        vocab_size = write_roberta(out, np.random.default_rng(20261201))
        print(f"{out}: vocab {vocab_size}, " + ", ".join(sorted(p.name for p in out.iterdir())))
        return
    vocab = vocabulary()
    if family == "distilbert":
        cfg = distilbert_config(len(vocab))
        save_file(distilbert_weights(dict(CONFIG, vocab_size=len(vocab)), np.random.default_rng(20261202)), str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        write_wordpiece(out, vocab)
        print(f"{out}: vocab {len(vocab)}, " + ", ".join(sorted(p.name for p in out.iterdir())))
        return
    cfg = dict(CONFIG, vocab_size=len(vocab))
    save_file(weights(cfg, np.random.default_rng(20261130)), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    write_wordpiece(out, vocab)
    print(f"{out}: vocab {len(vocab)}, " + ", ".join(sorted(p.name for p in out.iterdir())))


def write_wordpiece(out, vocab):
    tokenizer(vocab).save(str(out / "tokenizer.json"))
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 128,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps({
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]",
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
