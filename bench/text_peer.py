"""The Keras 3 peer of tunespec's BERT-family fine-tuning (issue 15), driven by bench/text-peer.ts.

A BERT encoder written by hand in Keras 3 (TensorFlow backend) from the same model.safetensors
and config.json that tunespec reads: embeddings, N blocks (post-LN, exact GELU), mask-aware mean
pooling. Three modes, each printing one JSON line:

  --mode check  --reference test/fixtures/text/minilm-reference.json
      mean-pooled, L2-normalised sentence vectors of the fixture's token ids against its NumPy
      vectors (max |diff|), as tunespec's own test checks its encoder.
  --mode step   [--batch 16 --tokens 64 --train-top 2 --reps 3]
      the bench/text-encoder.ts training step in Keras: random ids, loss mean(hidden²), Adam 1e-4,
      the top blocks trainable; the full forward (`stepMs`) and the top blocks on cached hidden
      states (`cachedStepMs`), each a traced `train_on_batch`; wall and process CPU milliseconds.
  --mode sweep  --data split.json [--features]
      a sentiment.yaml-like sweep on token ids that bench/text-peer.ts tokenized and split with
      tunespec's own reader, tokenizer and split: embeddings + lower blocks frozen (inference
      mode), the upper blocks and a mean-pooling + dropout + dense head trained with AdamW
      (decay excluded from 1-D weights) and HF's linear warmup per batch, one model per learning
      rate, `fit` with validation. --features runs the frozen part once (`predict`) and fits the
      upper blocks on its hidden states, the "features once by hand" way.

Python: TensorFlow 2.21 with Keras 3 (the native engine's .venv-native has them) and NumPy.
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers, ops  # noqa: E402

DTYPES = {'F32': np.float32, 'F16': np.float16, 'BF16': None}


def read_safetensors(path):
    """The tensors of a .safetensors file (8-byte header length, JSON header, raw little-endian data)."""
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == '__metadata__' or meta['dtype'] not in DTYPES:
            continue  # integer buffers such as embeddings.position_ids are no weights
        a, b = meta['data_offsets']
        raw = data[a:b]
        if meta['dtype'] == 'BF16':
            arr = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=DTYPES[meta['dtype']]).astype(np.float32)
        out[name.removeprefix('bert.')] = arr.reshape(meta['shape'])
    return out


class Embeddings(layers.Layer):
    def __init__(self, cfg, w, **kw):
        super().__init__(**kw)
        self.w = w
        self.word = layers.Embedding(cfg['vocab_size'], cfg['hidden_size'], name='word_embeddings')
        self.pos = layers.Embedding(cfg['max_position_embeddings'], cfg['hidden_size'], name='position_embeddings')
        self.type = layers.Embedding(cfg.get('type_vocab_size', 2), cfg['hidden_size'], name='token_type_embeddings')
        self.norm = layers.LayerNormalization(epsilon=cfg.get('layer_norm_eps', 1e-12), name='LayerNorm')
        self.drop = layers.Dropout(cfg.get('hidden_dropout_prob', 0.1))

    def build(self, shapes):
        self.word.build(None)
        self.pos.build(None)
        self.type.build(None)
        self.norm.build((None, None, self.word.output_dim))
        p = 'embeddings.'
        self.word.set_weights([self.w[p + 'word_embeddings.weight']])
        self.pos.set_weights([self.w[p + 'position_embeddings.weight']])
        self.type.set_weights([self.w[p + 'token_type_embeddings.weight']])
        self.norm.set_weights([self.w[p + 'LayerNorm.weight'], self.w[p + 'LayerNorm.bias']])

    def call(self, inputs, training=None):
        ids, types = inputs
        positions = ops.arange(ops.shape(ids)[1])
        x = self.word(ids) + self.pos(positions)[None] + self.type(types)
        return self.drop(self.norm(x), training=training)


class Block(layers.Layer):
    """One post-LN BERT block, weights from encoder.layer.<i>.*; PyTorch Linear [out, in] -> Dense kernel [in, out]."""

    def __init__(self, cfg, w, i, **kw):
        super().__init__(**kw)
        self.w, self.i = w, i
        h, self.heads = cfg['hidden_size'], cfg['num_attention_heads']
        eps = cfg.get('layer_norm_eps', 1e-12)
        self.q, self.k, self.v, self.o = (layers.Dense(h, name=n) for n in ('query', 'key', 'value', 'attention_output'))
        self.inter = layers.Dense(cfg['intermediate_size'], name='intermediate')
        self.out = layers.Dense(h, name='output')
        self.ln1 = layers.LayerNormalization(epsilon=eps, name='attention_LayerNorm')
        self.ln2 = layers.LayerNormalization(epsilon=eps, name='output_LayerNorm')
        self.attn_drop = layers.Dropout(cfg.get('attention_probs_dropout_prob', 0.1))
        self.drop1 = layers.Dropout(cfg.get('hidden_dropout_prob', 0.1))
        self.drop2 = layers.Dropout(cfg.get('hidden_dropout_prob', 0.1))

    def build(self, shapes):
        h = shapes[0][-1]
        p = f'encoder.layer.{self.i}.'
        dense = {
            self.q: 'attention.self.query', self.k: 'attention.self.key', self.v: 'attention.self.value',
            self.o: 'attention.output.dense', self.inter: 'intermediate.dense', self.out: 'output.dense',
        }
        for d, name in dense.items():
            d.build((None, None, self.w[p + name + '.weight'].shape[1]))
            d.set_weights([self.w[p + name + '.weight'].T, self.w[p + name + '.bias']])
        for ln, name in ((self.ln1, 'attention.output.LayerNorm'), (self.ln2, 'output.LayerNorm')):
            ln.build((None, None, h))
            ln.set_weights([self.w[p + name + '.weight'], self.w[p + name + '.bias']])

    def call(self, inputs, training=None):
        x, mask = inputs
        b, t, h = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        d = h // self.heads

        def split(y):
            return ops.transpose(ops.reshape(y, (b, t, self.heads, d)), (0, 2, 1, 3))

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(d)
        scores = scores + (1.0 - ops.cast(mask, 'float32'))[:, None, None, :] * -1e9
        probs = self.attn_drop(ops.softmax(scores, axis=-1), training=training)
        ctx = ops.reshape(ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3)), (b, t, h))
        x = self.ln1(x + self.drop1(self.o(ctx), training=training))
        y = self.out(ops.gelu(self.inter(x), approximate=False))
        return self.ln2(x + self.drop2(y, training=training))


class MeanPool(layers.Layer):
    def call(self, inputs):
        x, mask = inputs
        m = ops.cast(mask, 'float32')[:, :, None]
        return ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)


def load(folder):
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    return cfg, read_safetensors(os.path.join(folder, 'model.safetensors'))


def encoder(cfg, w, tokens, frozen_below, top_only=False):
    """Input tensors and the last hidden states; blocks below `frozen_below` (and the embeddings) frozen
    and called with training=False, as Keras's transfer-learning guide calls a frozen base.
    top_only: the model starts at the hidden states entering block `frozen_below`."""
    h = cfg['hidden_size']
    mask = keras.Input((tokens,), dtype='int32', name='attention_mask')
    if top_only:
        x = hidden = keras.Input((tokens, h), name='hidden')
        inputs = [hidden, mask]
    else:
        ids = keras.Input((tokens,), dtype='int32', name='input_ids')
        types = keras.Input((tokens,), dtype='int32', name='token_type_ids')
        inputs = [ids, mask, types]
        emb = Embeddings(cfg, w, name='embeddings')
        # Set after construction: the setter reaches the sublayers, the constructor argument does not.
        emb.trainable = frozen_below == 0
        x = emb([ids, types], training=False if frozen_below > 0 else None)
    for i in range(cfg['num_hidden_layers']):
        if top_only and i < frozen_below:
            continue
        frozen = i < frozen_below
        block = Block(cfg, w, i, name=f'encoder_layer_{i}')
        block.trainable = not frozen
        x = block([x, mask], training=False if frozen else None)
    return inputs, x, mask


def cpu_ms():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return (u.ru_utime + u.ru_stime) * 1000


def check(args):
    cfg, w = load(args.model)
    ref = json.load(open(args.reference))
    sentences = ref['sentences']
    t = max(len(s['input_ids']) for s in sentences)
    ids = np.zeros((len(sentences), t), np.int32)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for r, s in enumerate(sentences):
        n = len(s['input_ids'])
        ids[r, :n], types[r, :n], mask[r, :n] = s['input_ids'], s['token_type_ids'], 1
    inputs, hidden, m = encoder(cfg, w, t, 0)
    pooled = MeanPool()([hidden, m])
    model = keras.Model(inputs, pooled)
    v = model.predict([ids, mask, types], verbose=0)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    want = np.array([s['embedding'] for s in sentences], np.float32)
    print(json.dumps({'mode': 'check', 'sentences': len(sentences), 'maxAbsDiff': float(np.abs(v - want).max())}))


def timed(fn, reps):
    wall, cpu = [], []
    for _ in range(reps):
        c0, t0 = cpu_ms(), time.perf_counter()
        fn()
        wall.append(round((time.perf_counter() - t0) * 1000))
        cpu.append(round(cpu_ms() - c0))
    return wall, cpu


def step(args):
    cfg, w = load(args.model)
    keras.utils.set_random_seed(7)
    B, T, L = args.batch, args.tokens, cfg['num_hidden_layers']
    below = L - args.train_top
    rng = np.random.default_rng(7)
    ids = rng.integers(1000, cfg['vocab_size'], (B, T)).astype(np.int32)
    mask = np.ones_like(ids)
    types = np.zeros_like(ids)
    zeros = np.zeros((B, T, cfg['hidden_size']), np.float32)
    inputs, hidden, _ = encoder(cfg, w, T, below)
    full = keras.Model(inputs, hidden)
    full.compile(optimizer=keras.optimizers.Adam(1e-4), loss='mse')  # mean((hidden - 0)²), as text-encoder.ts
    forward = lambda: full.predict_on_batch([ids, mask, types])  # noqa: E731
    for _ in range(args.warmup):
        forward()
    fwd, fwd_cpu = timed(forward, args.reps)
    train = lambda: full.train_on_batch([ids, mask, types], zeros)  # noqa: E731
    for _ in range(args.warmup):
        train()  # traces
    steps, steps_cpu = timed(train, args.reps)
    prefix = keras.Model(inputs, full.get_layer(f'encoder_layer_{below - 1}').output if below > 0 else full.get_layer('embeddings').output)
    cached = prefix.predict_on_batch([ids, mask, types])
    top_inputs, top_hidden, _ = encoder(cfg, w, T, below, top_only=True)
    top = keras.Model(top_inputs, top_hidden)
    top.compile(optimizer=keras.optimizers.Adam(1e-4), loss='mse')
    train_top = lambda: top.train_on_batch([cached, mask], zeros)  # noqa: E731
    for _ in range(args.warmup):
        train_top()
    csteps, csteps_cpu = timed(train_top, args.reps)
    print(json.dumps({
        'mode': 'step', 'engine': 'keras', 'batch': B, 'tokens': T, 'trainTopBlocks': args.train_top,
        'forwardMs': fwd, 'forwardCpuMs': fwd_cpu, 'stepMs': steps, 'stepCpuMs': steps_cpu,
        'cachedStepMs': csteps, 'cachedStepCpuMs': csteps_cpu,
        'tensorflow': tf.__version__, 'keras': keras.__version__, 'jit_compile': bool(full.jit_compile),
    }))


class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
    """Hugging Face's get_linear_schedule_with_warmup (tunespec's warmup_linear): rate 0 at step 0."""

    def __init__(self, peak, warmup, total):
        self.peak, self.warmup, self.total = peak, warmup, total

    def __call__(self, step):
        s = ops.cast(step, 'float32')
        up = self.peak * s / max(1, self.warmup)
        down = self.peak * ops.maximum(0.0, (self.total - s) / max(1, self.total - self.warmup))
        return ops.where(s < self.warmup, up, down)


def sweep(args):
    cfg, w = load(args.model)
    d = json.load(open(args.data))
    T, below = d['max_length'], d['frozen_blocks']
    arr = lambda k, part: np.array(d[part][k], np.int32)  # noqa: E731
    xs = {p: [arr('input_ids', p), arr('attention_mask', p), arr('token_type_ids', p)] for p in ('train', 'validation')}
    ys = {p: np.array(d[p]['labels'], np.int32) for p in ('train', 'validation')}
    n_train = len(ys['train'])
    steps_per_epoch = math.ceil(n_train / d['batch_size'])
    total = steps_per_epoch * d['epochs']
    warmup = math.ceil(d['warmup_fraction'] * total)
    results = []
    features_s = 0.0
    if args.features:
        inputs, hidden, _ = encoder(cfg, w, T, below)
        prefix = keras.Model(inputs, keras.Model(inputs, hidden).get_layer(f'encoder_layer_{below - 1}').output)
        t0 = time.perf_counter()
        xs = {p: [prefix.predict(xs[p], batch_size=64, verbose=0), xs[p][1]] for p in xs}
        features_s = time.perf_counter() - t0
    for lr in d['learning_rates']:
        keras.utils.set_random_seed(d['seed'])
        inputs, hidden, mask = encoder(cfg, w, T, below, top_only=args.features)
        x = MeanPool()([hidden, mask])
        x = layers.Dropout(d['head_dropout'])(x)
        out = layers.Dense(d['classes'], activation='softmax')(x)
        model = keras.Model(inputs, out)
        opt = keras.optimizers.AdamW(WarmupLinear(lr, warmup, total), weight_decay=d['weight_decay'], beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        opt.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if len(v.shape) == 1])
        model.compile(optimizer=opt, loss='sparse_categorical_crossentropy', metrics=['accuracy'])
        t0 = time.perf_counter()
        h = model.fit(xs['train'], ys['train'], batch_size=d['batch_size'], epochs=d['epochs'], shuffle=True,
                      validation_data=(xs['validation'], ys['validation']), verbose=0)
        results.append({'learning_rate': lr, 'val_accuracy': h.history['val_accuracy'][-1],
                        'best_val_accuracy': max(h.history['val_accuracy']), 'val_loss': h.history['val_loss'][-1],
                        'fit_seconds': round(time.perf_counter() - t0, 2),
                        'trainable_params': int(sum(np.prod(v.shape) for v in model.trainable_variables))})
    print(json.dumps({'mode': 'sweep', 'features': args.features, 'features_seconds': round(features_s, 2),
                      'train': n_train, 'validation': len(ys['validation']), 'variants': results}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--mode', choices=['check', 'step', 'sweep'], required=True)
    p.add_argument('--model', required=True)
    p.add_argument('--reference')
    p.add_argument('--data')
    p.add_argument('--features', action='store_true')
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--tokens', type=int, default=64)
    p.add_argument('--train-top', type=int, default=2)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--warmup', type=int, default=1)
    args = p.parse_args()
    {'check': check, 'step': step, 'sweep': sweep}[args.mode](args)


if __name__ == '__main__':
    sys.exit(main())
