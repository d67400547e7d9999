#!/usr/bin/env python3
"""The Keras peers of bench/frozen-backbone.ts: the same frozen-backbone learning-rate sweep
(and the same partial unfreeze) that the bench specs ask tunespec for, written in Keras the way
its users write it. Prints one JSON object on the last line of stdout.

  --mode a   the transfer-learning guide's way: base.trainable = False, base(inputs,
             training=False), GlobalAveragePooling2D + Dense head, model.fit per learning rate
             (every epoch pushes every image through the frozen base again)
  --mode b   features once, by hand: base.predict once (at out_relu), then the same
             GlobalAveragePooling2D + Dense head fit on the features per learning rate
  --mode c   partial unfreeze: one flat model (backbone + the new head) whose layers from
             --unfreeze-from on are trainable (batch norms there train, as Keras does; frozen
             ones run in inference mode); trains --epochs-c epochs at --lr-c and reports
             examples/s per epoch, counted as tunespec counts them (training examples / seconds
             of the epoch including its validation pass), and training steps alone

The backbone is the pre-trained model written by scripts/mobilenet_pretrain.py (model.keras),
cut at out_relu. Data: Fashion-MNIST IDX, the first --limit-per-class images of each of
--classes in file order, pixel / 255, (x - 0.5) / 0.5, bilinear resize to 96x96, grey to 3
channels; the validation split is read from --split (the indices tunespec's seeded stratified
split picks, written by bench/frozen-backbone.ts) so both tools score the same images.

Usage: python bench/keras_peers.py --mode a|b|c --model MODEL.keras --split SPLIT.json [options]
"""
import argparse
import json
import os
import resource
import sys
import time

T0 = time.time()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from keras_io import read_idx  # noqa: E402

SIZE = 96


def load_data(images, labels, classes, limit):
    """First `limit` examples of each class in file order; labels become class indices."""
    x = read_idx(images)
    y = read_idx(labels)
    keep = np.zeros(len(y), bool)
    for c in classes:
        keep[np.flatnonzero(y == c)[:limit]] = True
    index = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([index[int(v)] for v in y[keep]], np.int32)


def preprocess(x_uint8, chunk=1000):
    """uint8 (N, 28, 28) -> float32 (N, 96, 96, 3) in [-1, 1], in chunks to bound memory."""
    out = np.empty((len(x_uint8), SIZE, SIZE, 3), np.float32)
    for i in range(0, len(x_uint8), chunk):
        x = tf.convert_to_tensor(x_uint8[i:i + chunk], tf.float32)[..., None] / 255.0
        x = tf.image.resize((x - 0.5) / 0.5, (SIZE, SIZE), method="bilinear")
        out[i:i + chunk] = tf.tile(x, [1, 1, 1, 3]).numpy()
    return out


def split_indices(path, y, fraction, seed):
    if path:
        with open(path) as f:
            s = json.load(f)
        if s["n"] != len(y):
            sys.exit(f"{path} splits {s['n']} examples, the data has {len(y)}")
        return np.array(s["train"], np.int64), np.array(s["validation"], np.int64), "tunespec"
    rng = np.random.default_rng(seed)
    val = np.sort(np.concatenate([
        rng.permutation(np.flatnonzero(y == c))[: round(fraction * np.sum(y == c))] for c in np.unique(y)]))
    return np.setdiff1d(np.arange(len(y)), val), val, "numpy (no --split given)"


def new_head(x, classes):
    x = layers.GlobalAveragePooling2D(name="head_gap")(x)
    return layers.Dense(classes, activation="softmax", name="head_dense")(x)


def compile_model(model, lr):
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def unfreeze_model(full, args, classes, seed):
    """The backbone + a new head, layers from --unfreeze-from on trainable, compiled."""
    keras.utils.set_random_seed(seed)
    model = keras.Model(full.input, new_head(full.get_layer(args.cut).output, classes))
    first = [l.name for l in model.layers].index(args.unfreeze_from)
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= first
    compile_model(model, args.lr_c)
    return model


class EpochClock(keras.callbacks.Callback):
    """Seconds per epoch (training + validation, as tunespec counts) and of its training steps."""

    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        self.epochs = getattr(self, "epochs", []) + [(end - self.t, self.train_end - self.t)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["a", "b", "c"], required=True)
    ap.add_argument("--model", required=True, help="pre-trained model.keras")
    ap.add_argument("--cut", default="out_relu")
    ap.add_argument("--images", default="/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
    ap.add_argument("--labels", default="/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
    ap.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    ap.add_argument("--limit-per-class", type=int, default=1000)
    ap.add_argument("--split", help="JSON {n, train, validation} of indices into the selected examples")
    ap.add_argument("--validation-fraction", type=float, default=0.2)
    ap.add_argument("--learning-rates", type=float, nargs="+", default=[0.003, 0.001, 0.0003, 0.0001])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--predict-batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--unfreeze-from", default="block_16_expand")
    ap.add_argument("--epochs-c", type=int, default=2)
    ap.add_argument("--lr-c", type=float, default=0.001)
    ap.add_argument("--extra-seeds", type=int, nargs="*", default=[],
                    help="modes b and c: also fit with these seeds (the seed-to-seed spread)")
    ap.add_argument("--compare-features", help="mode b: a float32 file of every example's features in data order "
                    "(tunespec's feature cache entry) to compare with Keras's")
    args = ap.parse_args()

    report = {"mode": args.mode, "tensorflow": tf.__version__, "keras": keras.__version__,
              "threads": {"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                          "inter": tf.config.threading.get_inter_op_parallelism_threads(), "cpus": os.cpu_count()}}
    t = time.perf_counter()
    xr, y = load_data(args.images, args.labels, args.classes, args.limit_per_class)
    x = preprocess(xr)
    tr, va, split_from = split_indices(args.split, y, args.validation_fraction, args.seed)
    x_train, y_train, x_val, y_val = x[tr], y[tr], x[va], y[va]
    del x
    report.update(examples=int(len(y)), train=int(len(tr)), validation=int(len(va)), split=split_from,
                  data_seconds=round(time.perf_counter() - t, 2))

    t = time.perf_counter()
    full = keras.models.load_model(args.model, compile=False)
    classes = len(args.classes)
    report["load_seconds"] = round(time.perf_counter() - t, 2)
    results = {}

    if args.mode in ("a", "b"):
        base = keras.Model(full.input, full.get_layer(args.cut).output, name="base")
        base.trainable = False
        t = time.perf_counter()
        if args.mode == "b":
            f_train = base.predict(x_train, batch_size=args.predict_batch_size, verbose=0)
            f_val = base.predict(x_val, batch_size=args.predict_batch_size, verbose=0)
            report["extract_seconds"] = round(time.perf_counter() - t, 2)
            report["feature_shape"] = list(f_train.shape[1:])
            if args.compare_features:
                theirs = np.fromfile(args.compare_features, dtype="<f4").reshape((len(y),) + f_train.shape[1:])
                diff = np.concatenate([np.abs(theirs[tr] - f_train).reshape(-1), np.abs(theirs[va] - f_val).reshape(-1)])
                report["feature_parity"] = {"file": args.compare_features, "max_abs_diff": float(diff.max()),
                                            "mean_abs_diff": float(diff.mean()),
                                            "max_abs_feature": float(max(np.abs(f_train).max(), np.abs(f_val).max()))}
                del theirs, diff
        for lr in args.learning_rates:
            keras.utils.set_random_seed(args.seed)
            if args.mode == "a":
                inputs = keras.Input(shape=(SIZE, SIZE, 3))
                model = keras.Model(inputs, new_head(base(inputs, training=False), classes))
                fit_x, fit_val = x_train, (x_val, y_val)
            else:
                inputs = keras.Input(shape=f_train.shape[1:])
                model = keras.Model(inputs, new_head(inputs, classes))
                fit_x, fit_val = f_train, (f_val, y_val)
            compile_model(model, lr)
            s = time.perf_counter()
            hist = model.fit(fit_x, y_train, batch_size=args.batch_size, epochs=args.epochs,
                             validation_data=fit_val, shuffle=True, verbose=0)
            results[repr(lr)] = {"val_accuracy": round(float(hist.history["val_accuracy"][-1]), 5),
                                 "val_loss": round(float(hist.history["val_loss"][-1]), 5),
                                 "fit_seconds": round(time.perf_counter() - s, 2)}
            print(f"lr {lr}: {results[repr(lr)]}", file=sys.stderr, flush=True)
        report["sweep_seconds"] = round(time.perf_counter() - t, 2)
        if args.mode == "b" and args.extra_seeds:
            spread = {}
            for lr in args.learning_rates:
                accs = [results[repr(lr)]["val_accuracy"]]
                for seed in args.extra_seeds:
                    keras.utils.set_random_seed(seed)
                    inputs = keras.Input(shape=f_train.shape[1:])
                    model = keras.Model(inputs, new_head(inputs, classes))
                    compile_model(model, lr)
                    hist = model.fit(f_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                                     validation_data=(f_val, y_val), shuffle=True, verbose=0)
                    accs.append(round(float(hist.history["val_accuracy"][-1]), 5))
                spread[repr(lr)] = accs
                print(f"lr {lr}: seeds {[args.seed] + args.extra_seeds} -> {accs}", file=sys.stderr, flush=True)
            report["seed_spread"] = {"seeds": [args.seed] + args.extra_seeds, "val_accuracy": spread}
    else:
        model = unfreeze_model(full, args, classes, args.seed)
        report["trainable_layers"] = [l.name for l in model.layers if l.trainable and l.weights]
        report["trainable_params"] = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        clock = EpochClock()
        s = time.perf_counter()
        hist = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs_c,
                         validation_data=(x_val, y_val), shuffle=True, verbose=0, callbacks=[clock])
        report["sweep_seconds"] = round(time.perf_counter() - s, 2)
        n = len(tr)
        report["epochs"] = [{"epoch": i + 1, "seconds": round(e, 2), "examples_per_second": round(n / e, 1),
                             "train_step_examples_per_second": round(n / tr_s, 1)}
                            for i, (e, tr_s) in enumerate(clock.epochs)]
        # The first epoch pays for tracing; the last one is the steady state.
        report["examples_per_second"] = report["epochs"][-1]["examples_per_second"]
        report["train_step_examples_per_second"] = report["epochs"][-1]["train_step_examples_per_second"]
        results[repr(args.lr_c)] = {"val_accuracy": round(float(hist.history["val_accuracy"][-1]), 5),
                                    "val_loss": round(float(hist.history["val_loss"][-1]), 5)}
        if args.extra_seeds:
            accs = [results[repr(args.lr_c)]["val_accuracy"]]
            for seed in args.extra_seeds:
                # Training moved the loaded backbone's top block: every seed starts from the file.
                fresh = keras.models.load_model(args.model, compile=False)
                hist = unfreeze_model(fresh, args, classes, seed).fit(
                    x_train, y_train, batch_size=args.batch_size, epochs=args.epochs_c,
                    validation_data=(x_val, y_val), shuffle=True, verbose=0)
                accs.append(round(float(hist.history["val_accuracy"][-1]), 5))
                print(f"seed {seed}: {accs[-1]}", file=sys.stderr, flush=True)
            report["seed_spread"] = {"seeds": [args.seed] + args.extra_seeds, "val_accuracy": {repr(args.lr_c): accs}}

    report["results"] = results
    report["wall_seconds"] = round(time.time() - T0, 2)
    report["max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
