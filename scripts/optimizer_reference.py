"""Reference values for tunespec's AdamW, gradient clipping and per-batch schedules, in NumPy.

An implementation independent of tunespec's (no TensorFlow.js, no shared code), written from the
definitions of torch.optim.AdamW, torch.nn.utils.clip_grad_norm_ and Hugging Face's
get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup. test/train/recipe.test.ts
checks tunespec against the values it writes.

Usage: python3 scripts/optimizer_reference.py [test/fixtures/train/recipe-reference.json]
"""

import json
import math
import sys

import numpy as np


def hf_rate(kind: str, lr: float, min_lr: float, step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return lr * step / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    fall = 1.0 - progress if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_lr + (lr - min_lr) * fall


def schedules() -> list[dict]:
    cases = []
    for kind in ("linear", "cosine"):
        for epochs, per_epoch, warmup_steps, warmup_fraction, min_lr in ((2, 3, 2, None, 0.0), (2, 5, None, 0.25, 0.01), (3, 2, 0, None, 0.0)):
            total = epochs * per_epoch
            warmup = warmup_steps if warmup_steps is not None else math.ceil(warmup_fraction * total)
            schedule = {"type": f"warmup_{kind}", "min_learning_rate": min_lr}
            if warmup_steps is not None:
                schedule["warmup_steps"] = warmup_steps
            else:
                schedule["warmup_fraction"] = warmup_fraction
            cases.append(
                {
                    "schedule": schedule,
                    "epochs": epochs,
                    "steps_per_epoch": per_epoch,
                    "learning_rate": 0.1,
                    "rates": [hf_rate(kind, 0.1, min_lr, s, total, warmup) for s in range(total)],
                }
            )
    return cases


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def adamw_run(weight_decay: float, max_grad_norm: float | None) -> dict:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3))
    y = np.array([0, 1, 1, 0, 1, 0])
    w0 = rng.normal(scale=0.5, size=(3, 2))
    b0 = rng.normal(scale=1.0, size=(2,))
    # float32 inputs, as tfjs holds them; the reference itself computes in float64.
    x, w0, b0 = (a.astype(np.float32).astype(np.float64) for a in (x, w0, b0))
    lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    epochs, batch = 2, 2
    batches = [list(range(i, i + batch)) for i in range(0, len(x), batch)]
    total = epochs * len(batches)
    w, b = w0.copy(), b0.copy()
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    rates, norms = [], []
    for step in range(total):
        rows = batches[step % len(batches)]
        xb, yb = x[rows], np.eye(2)[y[rows]]
        p = softmax(xb @ w + b)
        dz = (p - yb) / len(rows)  # mean categorical cross-entropy
        grads = [xb.T @ dz, dz.sum(axis=0)]
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
        norms.append(norm)
        if max_grad_norm is not None:
            scale = min(1.0, max_grad_norm / (norm + 1e-6))
            grads = [g * scale for g in grads]
        rate = hf_rate("linear", lr, 0.0, step, total, 2)
        rates.append(rate)
        params = [w, b]
        for i, (param, g) in enumerate(zip(params, grads)):
            if param.ndim >= 2:  # matrices decay, vectors (the bias) never
                param *= 1 - rate * weight_decay
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1 ** (step + 1))
            v_hat = v[i] / (1 - beta2 ** (step + 1))
            param -= rate * m_hat / (np.sqrt(v_hat) + eps)
    return {
        "weight_decay": weight_decay,
        "max_grad_norm": max_grad_norm,
        "x": x.tolist(),
        "y": y.tolist(),
        "kernel0": w0.tolist(),
        "bias0": b0.tolist(),
        "batch_size": batch,
        "epochs": epochs,
        "learning_rate": lr,
        "warmup_steps": 2,
        "rates": rates,
        "grad_norms": norms,
        "kernel": w.tolist(),
        "bias": b.tolist(),
    }


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/train/recipe-reference.json"
    runs = [adamw_run(0.1, 0.45), adamw_run(0.0, None), adamw_run(0.5, None)]
    clipped = runs[0]
    assert min(clipped["grad_norms"]) < 0.45 < max(clipped["grad_norms"]), "choose max_grad_norm so that some steps clip and some do not"
    out = {"generator": f"scripts/optimizer_reference.py (NumPy {np.__version__})", "schedules": schedules(), "adamw": runs}
    with open(target, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {target}; clipped-run gradient norms: {[round(n, 3) for n in clipped['grad_norms']]}")


if __name__ == "__main__":
    main()
