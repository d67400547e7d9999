#!/usr/bin/env python3
"""Make models/onnx-base/model.onnx: a small CNN exported by a peer tool (tf2onnx), not by
tunespec's own exporter, so the ONNX-base path is tested on a graph shaped the way other tools
write them: an NCHW input (as PyTorch models take), Transpose/Conv/Relu nodes named by the tool.

Pre-trained briefly with Keras on Fashion-MNIST TRAIN classes 0-4; the fine-tuning tests then
learn classes 5-9 on its features. Regenerate with: bash scripts/make-onnx-base.sh
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np
import tensorflow as tf
import tf2onnx

from keras_io import read_idx

DATA = "/usr/share/datasets/fashion-mnist"


def main(out):
    tf.keras.utils.set_random_seed(7)
    x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    keep = np.nonzero(y < 5)[0][:15000]
    # NCHW, as a PyTorch model takes it; values in [0, 1].
    x = (x[keep].astype("float32") / 255.0)[:, None, :, :]
    y = y[keep]
    inputs = tf.keras.Input((1, 28, 28), name="pixels")
    h = tf.keras.layers.Permute((2, 3, 1))(inputs)
    h = tf.keras.layers.Conv2D(12, 3, padding="same", name="conv_a")(h)
    h = tf.keras.layers.BatchNormalization(name="bn_a")(h)
    h = tf.keras.layers.ReLU(name="relu_a")(h)
    h = tf.keras.layers.MaxPooling2D(name="pool_a")(h)
    h = tf.keras.layers.Conv2D(24, 3, padding="same", activation="relu", name="conv_b")(h)
    h = tf.keras.layers.MaxPooling2D(name="pool_b")(h)
    h = tf.keras.layers.GlobalAveragePooling2D(name="features")(h)
    outputs = tf.keras.layers.Dense(5, activation="softmax", name="logits")(h)
    model = tf.keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=64, verbose=2)
    spec = (tf.TensorSpec((None, 1, 28, 28), tf.float32, name="pixels"),)

    @tf.function(input_signature=spec)
    def serve(pixels):
        return model(pixels, training=False)

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=13, output_path=out)
    print("wrote", out, os.path.getsize(out), "bytes;", len(proto.graph.node), "nodes:", [n.output[0] for n in proto.graph.node])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/onnx-base/model.onnx")
