#!/usr/bin/env python3
"""Pre-train the benchmark backbone: Keras MobileNetV2 (alpha 0.35, 96x96x3, weights=None)
+ GlobalAveragePooling2D ("avg_pool") + Dense(10, softmax, "predictions"), briefly, on
Fashion-MNIST TRAIN images (the bench fine-tunes a new head on the 10,000 t10k images, never
seen here).

Preprocessing (the same everywhere in bench/): pixel / 255, then (x - 0.5) / 0.5 -> [-1, 1],
bilinear resize 28x28 -> 96x96 (tf.image.resize, half-pixel centres), grey replicated to 3
channels.

MobileNetV2's batch norms use momentum 0.999, too slow for moving statistics to settle in a
few hundred steps: pre-training runs with momentum 0.9 and the saved model gets 0.999 back
(so its config is stock MobileNetV2).

Writes into OUT_DIR:
  model.keras     the full pre-trained model (Keras peers start from it)
  manifest.json   every layer: name, class, config, inbound layers, weights (name, shape, offset)
  weights.bin     all weights, float32 little-endian, in manifest order
  check_x.bin     N x 96 x 96 x 3 float32 preprocessed t10k images (the same number of each class)
  check_y.bin     N int32 original labels
  check_pred.bin  N x 10 float32 Keras softmax predictions (inference mode)
  check_feat.bin  N x 1280 float32 avg_pool features (inference mode)

Usage: python scripts/mobilenet_pretrain.py OUT_DIR [--per-class 2000] [--epochs 2] [--seed 1234]
Run everything with: bash scripts/mobilenet-base.sh
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

from keras_io import read_idx, write_weights  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = list(range(10))
SIZE = 96
CHECK_PER_CLASS = 20


def select(prefix, classes, per_class):
    """First `per_class` examples of each class, in file order; labels as stored."""
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    keep = np.zeros(len(y), bool)
    for c in classes:
        keep[np.flatnonzero(y == c)[:per_class]] = True
    return x[keep], y[keep].astype(np.int32)


def preprocess(x_uint8):
    """uint8 (N, 28, 28) -> float32 (N, 96, 96, 3) in [-1, 1]."""
    x = tf.convert_to_tensor(x_uint8, tf.float32)[..., None] / 255.0
    x = (x - 0.5) / 0.5
    x = tf.image.resize(x, (SIZE, SIZE), method="bilinear")
    return tf.tile(x, [1, 1, 1, 3])


def build_model():
    base = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(SIZE, SIZE, 3), include_top=False, weights=None)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    out = layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(base.input, out, name="mobilenetv2_0.35_96_fashion")


def inbound_layers(layer_config):
    """Names of the layers feeding a layer, from a Keras 3 functional config entry."""
    names = []

    def walk(node):
        if isinstance(node, dict):
            hist = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
            if hist:
                names.append(hist[0])
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)

    walk(layer_config.get("inbound_nodes", []))
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--per-class", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--learning-rate", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)

    xr, y = select("train", CLASSES, args.per_class)
    xv_raw, yv = select("t10k", CLASSES, 100)
    x = preprocess(xr).numpy()
    xv = preprocess(xv_raw).numpy()
    print(f"train {x.shape} val {xv.shape} classes {CLASSES}", flush=True)

    model = build_model()
    bns = [l for l in model.layers if isinstance(l, layers.BatchNormalization)]
    for bn in bns:
        bn.momentum = 0.9
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.time()
    hist = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                     validation_data=(xv, yv), verbose=2)
    train_seconds = time.time() - t0
    for bn in bns:
        bn.momentum = 0.999
    val_loss, val_acc = model.evaluate(xv, yv, batch_size=256, verbose=0)
    print(f"pre-trained in {train_seconds:.1f}s; t10k, first 100 of each class: "
          f"val_loss={val_loss:.4f} val_acc={val_acc:.4f}", flush=True)
    model.save(os.path.join(args.out_dir, "model.keras"))

    config_layers = {l["name"]: l for l in model.get_config()["layers"]}
    entries, offset = write_weights(model, os.path.join(args.out_dir, "weights.bin"),
                                    lambda layer: {"inbound": inbound_layers(config_layers[layer.name])})

    # Check set: t10k images the pre-training never saw.
    cx_raw, cy = select("t10k", CLASSES, CHECK_PER_CLASS)
    cx = preprocess(cx_raw).numpy()
    cy = cy.astype("<i4")
    features = keras.Model(model.input, model.get_layer("avg_pool").output)
    cpred = model.predict(cx, batch_size=100, verbose=0).astype("<f4")
    cfeat = features.predict(cx, batch_size=100, verbose=0).astype("<f4")
    for name, arr in [("check_x", cx), ("check_y", cy), ("check_pred", cpred), ("check_feat", cfeat)]:
        np.ascontiguousarray(arr).tofile(os.path.join(args.out_dir, f"{name}.bin"))

    manifest = {
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "model_name": model.name,
        "input_name": model.layers[0].name,
        "input_shape": [SIZE, SIZE, 3],
        "classes": CLASSES,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "train_examples": int(x.shape[0]),
        "train_seconds": round(train_seconds, 1),
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()},
        "val_examples": int(xv.shape[0]),
        "val_accuracy": round(float(val_acc), 5),
        "val_loss": round(float(val_loss), 5),
        "layers": entries,
        "weights_bytes": offset,
        "check": {"n": int(cx.shape[0]), "features": int(cfeat.shape[1]),
                  "keras_accuracy": float((cpred.argmax(1) == cy).mean())},
    }
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {args.out_dir}: {len(entries)} layers, {offset} weight bytes", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
