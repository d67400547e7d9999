"""What the Keras scripts share: reading Fashion-MNIST's IDX files, and dumping a model's weights
for the TypeScript builders (scripts/build_base_model.ts, scripts/mobilenet_build.ts), which
rebuild the same layers in tfjs and copy the weights by layer name."""
import gzip
import json

import numpy as np


def read_idx(path):
    """An IDX file of unsigned bytes (gzipped or not) as an array of its declared shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 16 != 0 or (magic >> 8) & 0xFF != 0x08:
        raise ValueError(f"{path}: unexpected IDX magic {magic:#010x}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_weights(model, path, extra=lambda layer: {}):
    """Every layer's weights, float32 little-endian in Keras get_weights() order, to `path`.

    Returns the manifest entries (one per layer: name, class, full Keras config so the builders
    can diff it against tfjs's, `extra(layer)`, and each weight's leaf name, shape and offset)
    and the total byte count.
    """
    entries = []
    offset = 0
    with open(path, "wb") as f:
        for layer in model.layers:
            ws = []
            for var, val in zip(layer.weights, layer.get_weights()):
                arr = np.ascontiguousarray(val, dtype="<f4")
                f.write(arr.tobytes())
                # var.path is "conv1/kernel" in Keras 3; keep only the leaf name.
                leaf = getattr(var, "path", var.name).split("/")[-1].split(":")[0]
                ws.append({"name": leaf, "shape": list(arr.shape), "offset": offset, "size": int(arr.size)})
                offset += arr.nbytes
            entries.append({
                "name": layer.name,
                "class_name": layer.__class__.__name__,
                "config": json.loads(json.dumps(layer.get_config(), default=str)),
                **extra(layer),
                "weights": ws,
            })
    return entries, offset
