#!/usr/bin/env python3
"""Two baselines for a text classification split written by scripts/text_baselines.ts.

- TF-IDF + logistic regression: word uni- and bigrams, sublinear tf, on the raw training texts.
- Frozen encoder + linear head: each text tokenized with the model folder's tokenizer.json (Rust
  `tokenizers`, truncated to the spec's max_length), run through the NumPy encoder of
  scripts/text_reference.py (float64, independent of tunespec), mean-pooled over its tokens and
  L2-normalised, then a logistic regression on those vectors.

Each logistic regression picks its inverse regularisation C from 10 values (1e-4 … 1e4) by 5-fold
cross-validation on the training split alone; the validation split is scored once, at the end.
Prints a JSON list: name, val_accuracy, train and validation sizes, seconds, how it was fitted.

Usage (inside .venv-text, with scikit-learn): python scripts/text_baselines.py SPLIT.json
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from scipy.special import erf
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegressionCV
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
import text_reference  # noqa: E402

# The same exact GELU as text_reference's, vectorised: np.vectorize(math.erf) is slow on thousands of sentences.
text_reference.gelu = lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))

SEED = 0


def logistic(x_train, y_train, x_val, y_val):
    clf = LogisticRegressionCV(Cs=10, cv=5, max_iter=5000, random_state=SEED)
    clf.fit(x_train, y_train)
    return float((clf.predict(x_val) == np.asarray(y_val)).mean()), float(clf.C_[0])


def tfidf(split):
    t0 = time.perf_counter()
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
    x_train = vec.fit_transform(split["train"]["texts"])
    x_val = vec.transform(split["validation"]["texts"])
    acc, c = logistic(x_train, split["train"]["labels"], x_val, split["validation"]["labels"])
    return {"name": "TF-IDF (word 1-2 grams) + logistic regression", "val_accuracy": acc, "seconds": time.perf_counter() - t0,
            "detail": f"{x_train.shape[1]} features, C={c:g} by 5-fold CV on the training split"}


def frozen_encoder(split):
    t0 = time.perf_counter()
    folder = Path(split["model"])
    cfg = json.loads((folder / "config.json").read_text())
    params = text_reference.encoder_params(load_file(str(folder / "model.safetensors")), cfg)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=split["max_length"])

    def vectors(texts):
        out = []
        for text in texts:
            enc = tok.encode(text)
            mean = text_reference.encode(params, cfg, enc.ids, enc.type_ids).mean(0)
            out.append(mean / np.linalg.norm(mean))
        return np.stack(out)

    x_train, x_val = vectors(split["train"]["texts"]), vectors(split["validation"]["texts"])
    acc, c = logistic(x_train, split["train"]["labels"], x_val, split["validation"]["labels"])
    return {"name": f"frozen {folder.name} (mean-pooled, normalised) + logistic regression", "val_accuracy": acc,
            "seconds": time.perf_counter() - t0, "detail": f"{x_train.shape[1]}-d vectors, C={c:g} by 5-fold CV on the training split"}


def main():
    split = json.loads(Path(sys.argv[1]).read_text())
    sizes = {"train": len(split["train"]["texts"]), "validation": len(split["validation"]["texts"])}
    results = [dict(b(split), **sizes) for b in (tfidf, frozen_encoder)]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
