#!/usr/bin/env python3
"""Pre-train the small shipped base CNN (models/fashion-base) with Keras.

Trains on the Fashion-MNIST TRAIN split restricted to classes 0-4
(T-shirt/top, Trouser, Pullover, Dress, Coat), inputs scaled to [0, 1],
shape 28x28x1. Validation uses the t10k split, classes 0-4 (never trained on).

Writes into OUT_DIR (a temp dir; consumed by scripts/build_base_model.ts):
  manifest.json   layer names, weight names/shapes/offsets (Keras get_weights
                  order per layer), training metrics, check-set info
  weights.bin     all weights, float32 little-endian, concatenated in manifest order
  check_x.bin     N x 28 x 28 x 1 float32 test images (classes 0-4)
  check_y.bin     N int32 labels
  check_pred.bin  N x 5 float32 Keras softmax predictions (inference mode)

Usage: python scripts/pretrain_base.py OUT_DIR [--epochs 4] [--seed 1234]
Regenerate everything with: npm run make:base-model
"""
import argparse
import json
import os
import sys
import time

# Keep TF quiet and deterministic before importing it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers  # noqa: E402

from keras_io import read_idx, write_weights  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = [0, 1, 2, 3, 4]
CHECK_N = 200


def load_split(prefix):
    x = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    keep = np.isin(y, CLASSES)
    x = (x[keep].astype(np.float32) / 255.0)[..., None]
    y = y[keep].astype(np.int32)
    return x, y


def build_model():
    inp = keras.Input(shape=(28, 28, 1), name="input")
    x = layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inp)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.BatchNormalization(name="bn3")(x)
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc1")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    out = layers.Dense(len(CLASSES), activation="softmax", name="logits")(x)
    return keras.Model(inp, out, name="fashion_base")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    keras.utils.set_random_seed(args.seed)  # python, numpy and TF seeds
    tf.config.experimental.enable_op_determinism()

    os.makedirs(args.out_dir, exist_ok=True)
    x_train, y_train = load_split("train")
    x_test, y_test = load_split("t10k")
    print(f"train {x_train.shape} val {x_test.shape} classes {CLASSES}", flush=True)

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.summary()

    t0 = time.time()
    hist = model.fit(
        x_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        shuffle=True,
        validation_data=(x_test, y_test),
        verbose=2,
    )
    train_seconds = time.time() - t0
    val_loss, val_acc = model.evaluate(x_test, y_test, batch_size=256, verbose=0)
    print(f"trained in {train_seconds:.1f}s; val_loss={val_loss:.4f} val_acc={val_acc:.4f}", flush=True)

    # Weights, in Keras get_weights() order per layer.
    layer_entries, offset = write_weights(model, os.path.join(args.out_dir, "weights.bin"))

    # Fixed check set: the first CHECK_N test images of classes 0-4 (file order).
    cx, cy = x_test[:CHECK_N], y_test[:CHECK_N]
    cpred = model.predict(cx, batch_size=CHECK_N, verbose=0).astype("<f4")
    np.ascontiguousarray(cx, dtype="<f4").tofile(os.path.join(args.out_dir, "check_x.bin"))
    np.ascontiguousarray(cy, dtype="<i4").tofile(os.path.join(args.out_dir, "check_y.bin"))
    cpred.tofile(os.path.join(args.out_dir, "check_pred.bin"))
    check_acc = float((cpred.argmax(1) == cy).mean())

    manifest = {
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "classes": CLASSES,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "train_examples": int(x_train.shape[0]),
        "val_examples": int(x_test.shape[0]),
        "train_seconds": round(train_seconds, 1),
        "history": {k: [round(float(v), 5) for v in vs] for k, vs in hist.history.items()},
        "val_accuracy": round(float(val_acc), 5),
        "val_loss": round(float(val_loss), 5),
        "layers": layer_entries,
        "weights_bytes": offset,
        "check": {"n": int(cx.shape[0]), "keras_accuracy": check_acc},
    }
    with open(os.path.join(args.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote {args.out_dir} ({offset} weight bytes, check acc {check_acc:.4f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
