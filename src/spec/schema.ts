// The one definition of an experiment spec. `schemas/experiment.schema.json` is generated from
// this object (`npm run schema`) and a test fails when the two drift; the TypeScript types in
// `types.ts` are derived from it, so a field is declared exactly once, with its default.

const layerRef = {
  description: 'A layer of the built model: its index (negative counts from the end) or its name.',
  oneOf: [{ type: 'integer' }, { type: 'string', minLength: 1 }],
} as const;

const activation = {
  type: 'string',
  enum: ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'tanh', 'softmax', 'softplus', 'swish'],
} as const;

const headLayer = {
  type: 'object',
  description: 'One layer of the new head, applied on top of the cut.',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    {
      title: 'dense',
      properties: {
        type: { const: 'dense' },
        units: { type: 'integer', minimum: 1, maximum: 65536 },
        activation: { ...activation, default: 'linear' },
        name: { type: 'string', minLength: 1 },
        l2: { type: 'number', minimum: 0, default: 0, description: 'L2 penalty on the kernel.' },
      },
      required: ['type', 'units'],
      additionalProperties: false,
    },
    {
      title: 'dropout',
      properties: {
        type: { const: 'dropout' },
        rate: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.5 },
        name: { type: 'string', minLength: 1 },
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'batch_norm',
      properties: {
        type: { const: 'batch_norm' },
        momentum: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.99 },
        epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.001 },
        name: { type: 'string', minLength: 1 },
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'activation',
      properties: {
        type: { const: 'activation' },
        activation,
        name: { type: 'string', minLength: 1 },
      },
      required: ['type', 'activation'],
      additionalProperties: false,
    },
    {
      title: 'flatten',
      properties: { type: { const: 'flatten' }, name: { type: 'string', minLength: 1 } },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'global_average_pooling',
      properties: { type: { const: 'global_average_pooling' }, name: { type: 'string', minLength: 1 } },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'pooling',
      description: 'The first head layer on a text encoder: one vector per text from its last hidden states and attention mask.',
      properties: {
        type: { const: 'pooling' },
        mode: {
          type: 'string',
          enum: ['cls', 'mean', 'max'],
          description: 'cls: the first token ([CLS]); mean or max: over the real tokens, padding excluded.',
        },
        name: { type: 'string', minLength: 1 },
      },
      required: ['type', 'mode'],
      additionalProperties: false,
    },
  ],
} as const;

const freezeRange = {
  description:
    'Layers to freeze, inclusive: `{from, to}` by index or name, or `{match}` by regular expression on the layer name.',
  oneOf: [
    {
      type: 'object',
      properties: { from: layerRef, to: layerRef },
      required: ['from', 'to'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: { match: { type: 'string', minLength: 1, format: 'regex' } },
      required: ['match'],
      additionalProperties: false,
    },
  ],
} as const;

const augment = {
  type: 'object',
  description: 'Random changes to training batches only (never to validation data).',
  properties: {
    flip: { type: 'boolean', default: false, description: 'Random horizontal flip.' },
    translate: { type: 'integer', minimum: 0, maximum: 8, default: 0, description: 'Random shift, in pixels, each axis.' },
    brightness: { type: 'number', minimum: 0, maximum: 1, default: 0, description: 'Random brightness offset, as a fraction of the value range.' },
  },
  additionalProperties: false,
} as const;

const dataCommon = {
  classes: {
    type: 'array',
    description: 'Keep only these labels (label values as stored in the data), in this order; the model sees them as classes 0..n-1.',
    items: { oneOf: [{ type: 'integer' }, { type: 'string' }] },
    minItems: 2,
    uniqueItems: true,
  },
  class_names: {
    type: 'array',
    description: 'Readable names of the kept classes, in the same order.',
    items: { type: 'string' },
    minItems: 2,
  },
  limit_per_class: { type: 'integer', minimum: 1, description: 'Keep at most this many examples of each class (the first ones in file order).' },
} as const;

const imageCommon = {
  ...dataCommon,
  scale: { type: 'number', exclusiveMinimum: 0, default: 255, description: 'Pixel values are divided by this.' },
  augment: { ...augment, default: {} },
} as const;

const data = {
  type: 'object',
  required: ['format'],
  discriminator: { propertyName: 'format' },
  oneOf: [
    {
      title: 'idx',
      properties: {
        format: { const: 'idx' },
        images: { type: 'string', minLength: 1, description: 'IDX image file (gzipped or not), relative to the spec.' },
        labels: { type: 'string', minLength: 1, description: 'IDX label file (gzipped or not), relative to the spec.' },
        ...imageCommon,
      },
      required: ['format', 'images', 'labels'],
      additionalProperties: false,
    },
    {
      title: 'image_folder',
      properties: {
        format: { const: 'image_folder' },
        path: { type: 'string', minLength: 1, description: 'Folder with one sub-folder of PNG/JPEG images per class.' },
        height: { type: 'integer', minimum: 1, maximum: 4096 },
        width: { type: 'integer', minimum: 1, maximum: 4096 },
        channels: { type: 'integer', enum: [1, 3], default: 3 },
        ...imageCommon,
      },
      required: ['format', 'path', 'height', 'width'],
      additionalProperties: false,
    },
    {
      title: 'csv',
      properties: {
        format: { const: 'csv' },
        path: { type: 'string', minLength: 1 },
        label_column: { type: 'string', minLength: 1, default: 'label' },
        feature_columns: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          minItems: 1,
          uniqueItems: true,
          description: 'Numeric columns to use; all but the label column when omitted.',
        },
        ...dataCommon,
      },
      required: ['format', 'path'],
      additionalProperties: false,
    },
    {
      title: 'text',
      description: 'Labelled texts (or text pairs) for a text encoder base, tokenized with the base model\'s own tokenizer.',
      properties: {
        format: { const: 'text' },
        path: {
          type: 'string',
          minLength: 1,
          description: 'A `.csv` or `.tsv` file with a header row (RFC 4180 quoting), or `.jsonl` (one JSON object per line), relative to the spec.',
        },
        text_column: { type: 'string', minLength: 1, default: 'text' },
        text_pair_column: { type: 'string', minLength: 1, description: 'Second text of each example (sentence pairs: entailment, paraphrase).' },
        label_column: { type: 'string', minLength: 1, default: 'label' },
        max_length: {
          type: 'integer',
          minimum: 1,
          maximum: 8192,
          default: 128,
          description: 'Tokens per example, special tokens included: longer texts are truncated (longest first for pairs), shorter ones padded.',
        },
        ...dataCommon,
      },
      required: ['format', 'path'],
      additionalProperties: false,
    },
    {
      title: 'chat',
      description:
        'Prompts and completions for a decoder (task: generation): JSONL, one example per line, `{"prompt": …, "completion": …}` or `{"messages": [{"role": …, "content": …}, …]}`, rendered with the base model\'s chat template. The loss counts completion (assistant) tokens only.',
      properties: {
        format: { const: 'chat' },
        path: { type: 'string', minLength: 1, description: 'A `.jsonl` file, relative to the spec.' },
        max_length: {
          type: 'integer',
          minimum: 2,
          maximum: 8192,
          default: 256,
          description: 'Tokens per example after rendering; longer examples are cut at the end (and counted in the run\'s output).',
        },
      },
      required: ['format', 'path'],
      additionalProperties: false,
    },
  ],
} as const;

const warmupSteps = {
  warmup_steps: { type: 'integer', minimum: 0, description: 'Batches (optimizer steps) of warmup. Give this or warmup_fraction; neither means no warmup.' },
  warmup_fraction: {
    type: 'number',
    minimum: 0,
    exclusiveMaximum: 1,
    description: 'Warmup as a fraction of all steps (epochs × batches per epoch), rounded up, as Hugging Face\'s warmup_ratio.',
  },
  min_learning_rate: { type: 'number', minimum: 0, default: 0 },
} as const;

const schedule = {
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: [
    {
      title: 'constant',
      properties: { type: { const: 'constant' } },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'step',
      properties: {
        type: { const: 'step' },
        every: { type: 'integer', minimum: 1, default: 1, description: 'Epochs between decays.' },
        factor: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5 },
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'cosine',
      properties: {
        type: { const: 'cosine' },
        min_learning_rate: { type: 'number', minimum: 0, default: 0 },
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'warmup',
      properties: {
        type: { const: 'warmup' },
        epochs: { type: 'integer', minimum: 1, default: 1, description: 'Epochs over which the rate climbs in equal steps to learning_rate, then stays there.' },
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'warmup_linear',
      description:
        'Per batch, as Hugging Face\'s linear schedule with warmup: the rate climbs linearly from 0 to learning_rate over the warmup steps, then falls linearly towards min_learning_rate at the end of the last epoch.',
      properties: {
        type: { const: 'warmup_linear' },
        ...warmupSteps,
      },
      required: ['type'],
      additionalProperties: false,
    },
    {
      title: 'warmup_cosine',
      description: 'Per batch, as Hugging Face\'s cosine schedule with warmup: linear warmup from 0, then half a cosine from learning_rate down to min_learning_rate.',
      properties: {
        type: { const: 'warmup_cosine' },
        ...warmupSteps,
      },
      required: ['type'],
      additionalProperties: false,
    },
  ],
} as const;

/** What variants are ranked by when a spec names no objective (also for a stored sweep whose spec is unreadable). */
export const DEFAULT_OBJECTIVE_METRIC = 'val_accuracy';

/** What a generation spec (task: generation) ranks its variants by when it names no objective. */
export const DEFAULT_GENERATION_OBJECTIVE_METRIC = 'val_loss';

const metricName = { type: 'string', enum: ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'val_perplexity'] } as const;

/** The decoder projections LoRA can adapt, by their Hugging Face module names (PEFT's target_modules). */
export const LORA_TARGET_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

const blockRef = {
  description: 'A decoder block: its index among the blocks (negative counts from the last) or its name (model.layers.N).',
  oneOf: [{ type: 'integer' }, { type: 'string', minLength: 1 }],
} as const;

const lora = {
  type: 'object',
  description:
    'Low-rank adapters (LoRA, as Hugging Face PEFT) on the decoder blocks\' projections, for task: generation. With lora and no `freeze`, every base weight is frozen and only the adapters train (PEFT\'s default). Every field is sweepable (`lora.rank: [4, 8]`).',
  properties: {
    rank: { type: 'integer', minimum: 1, maximum: 1024, default: 8, description: 'r: the adapters\' inner size.' },
    alpha: { type: 'number', exclusiveMinimum: 0, default: 16, description: 'The adapters\' output is scaled by alpha / rank.' },
    dropout: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0.05, description: 'Dropout on the adapter branch\'s input, in training only.' },
    target_modules: {
      type: 'array',
      items: { type: 'string', enum: LORA_TARGET_MODULES },
      minItems: 1,
      uniqueItems: true,
      default: ['q_proj', 'v_proj'],
      description: 'Which projections of each chosen block get adapters.',
    },
    layers: {
      description:
        'The blocks that get adapters: `{from, to}` (inclusive; a block index or name such as model.layers.20) or `{match}` (a regular expression on block names). Every block when omitted.',
      oneOf: [
        { type: 'object', properties: { from: blockRef, to: blockRef }, required: ['from', 'to'], additionalProperties: false },
        { type: 'object', properties: { match: { type: 'string', minLength: 1, format: 'regex' } }, required: ['match'], additionalProperties: false },
      ],
    },
  },
  additionalProperties: false,
} as const;

export const experimentSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://tunespec.dev/schemas/experiment.schema.json',
  title: 'tunespec experiment',
  description: 'A fine-tuning experiment: base model, cut, head, frozen layers, data, training, sweep.',
  type: 'object',
  // `head` is required for classification only: structure.ts checks it against `task`.
  required: ['name', 'base_model', 'data', 'training'],
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
      description: 'Experiment name: letters, digits, `_`, `.`, `-`; names the run folder.',
    },
    description: { type: 'string', default: '' },
    task: {
      type: 'string',
      enum: ['classification', 'generation'],
      description:
        'classification (the default): a new head on the base predicts a class. generation: a Llama decoder (`.gguf` or a Hugging Face folder with model_type llama) is fine-tuned on prompts and completions (data.format chat), with `lora` and/or `freeze`; no head.',
    },
    tags: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true, default: [] },
    base_model: {
      type: 'object',
      properties: {
        source: {
          type: 'string',
          minLength: 1,
          description:
            'TensorFlow.js LayersModel `model.json`, an ONNX model (`.onnx`, used as a frozen feature extractor), or a Hugging Face model folder (a path, file://, http(s):// or hf://org/name[@revision]); for task: generation, a Llama decoder: a folder with model_type llama or a local `.gguf` file. Paths are relative to the spec.',
        },
        cut: {
          ...layerRef,
          description:
            'Keep the base up to and including this layer (index or name; for an ONNX base, a node output name as `tunespec inspect` lists them); the head goes on top. Defaults to the last layer.',
        },
        preprocess: {
          type: 'object',
          description: 'How examples become the base model\'s input, after `data.scale`: resize, then channels, then `(x - mean) / std`. Recorded with the run, so `predict` and `evaluate` apply it too.',
          properties: {
            resize: {
              type: 'object',
              description: 'Bilinear resize of images to the base model\'s input size.',
              properties: { height: { type: 'integer', minimum: 1, maximum: 4096 }, width: { type: 'integer', minimum: 1, maximum: 4096 } },
              required: ['height', 'width'],
              additionalProperties: false,
            },
            layout: {
              type: 'string',
              enum: ['nhwc', 'nchw'],
              default: 'nhwc',
              description: 'The input layout an ONNX base model takes (nchw for most PyTorch exports); examples stay NHWC and tunespec transposes them. TensorFlow.js bases are NHWC.',
            },
            channels: { type: 'integer', enum: [1, 3], description: 'Grey images replicated to 3 channels (or RGB averaged to 1). Defaults to the data\'s own.' },
            mean: { oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 4 }], default: 0 },
            std: {
              oneOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, maxItems: 4 }],
              default: 1,
            },
          },
          additionalProperties: false,
        },
      },
      required: ['source'],
      additionalProperties: false,
    },
    head: { type: 'array', items: headLayer, minItems: 1, maxItems: 32, description: 'The new head (classification only; required there).' },
    freeze: { type: 'array', items: freezeRange, default: [] },
    lora,
    data,
    validation: {
      type: 'object',
      properties: {
        fraction: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.2 },
        stratified: { type: 'boolean', default: true },
        seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: 0 },
      },
      additionalProperties: false,
      default: {},
    },
    training: {
      type: 'object',
      properties: {
        epochs: { type: 'integer', minimum: 1, maximum: 10000 },
        batch_size: { type: 'integer', minimum: 1, maximum: 65536, default: 32 },
        optimizer: {
          type: 'string',
          enum: ['adam', 'adamw', 'sgd', 'rmsprop'],
          default: 'adam',
          description: 'adamw: Adam with decoupled weight decay (β 0.9/0.999, ε 1e-8, as torch.optim.AdamW).',
        },
        weight_decay: {
          type: 'number',
          minimum: 0,
          maximum: 1,
          description: 'AdamW\'s decoupled weight decay: each step multiplies weight matrices by (1 - rate × weight_decay); biases and normalisation scales and offsets (every 1-D weight) never decay. For optimizer adamw only.',
        },
        max_grad_norm: {
          type: 'number',
          exclusiveMinimum: 0,
          description: 'Clip gradients by their global norm (over all trainable weights) to at most this before each step, any optimizer. No clipping when omitted.',
        },
        momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0, description: 'For sgd and rmsprop.' },
        learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
        schedule: { ...schedule, default: { type: 'constant' } },
        loss: { type: 'string', enum: ['categorical_crossentropy'], default: 'categorical_crossentropy' },
        metrics: { type: 'array', items: { type: 'string', enum: ['accuracy'] }, uniqueItems: true, default: ['accuracy'] },
        seed: { type: 'integer', minimum: 0, maximum: 4294967295, default: 0 },
        gradient_accumulation_steps: {
          type: 'integer',
          minimum: 1,
          maximum: 4096,
          description:
            'task: generation: batches whose gradients are summed before each optimizer step (an effective batch of batch_size × this, as Hugging Face\'s Trainer). 1 when omitted.',
        },
        objective: {
          type: 'object',
          description: 'The metric that ranks variants (and that early stopping watches unless it names its own).',
          properties: {
            metric: { ...metricName, default: DEFAULT_OBJECTIVE_METRIC, description: `Defaults to ${DEFAULT_OBJECTIVE_METRIC}, and to ${DEFAULT_GENERATION_OBJECTIVE_METRIC} for task: generation.` },
            mode: { type: 'string', enum: ['max', 'min'], description: 'Defaults to min for losses, max otherwise.' },
          },
          additionalProperties: false,
          default: {},
        },
        early_stopping: {
          type: 'object',
          description: 'Stop when the monitored metric has not improved for `patience` epochs, and keep the best weights.',
          properties: {
            monitor: { ...metricName, description: 'Defaults to the objective metric.' },
            mode: { type: 'string', enum: ['max', 'min'], description: 'Defaults to min for losses, max otherwise.' },
            patience: { type: 'integer', minimum: 0, default: 3 },
            min_delta: { type: 'number', minimum: 0, default: 0 },
          },
          additionalProperties: false,
        },
      },
      required: ['epochs', 'learning_rate'],
      additionalProperties: false,
    },
    export: {
      type: 'object',
      description: 'What each completed variant is exported to besides its tfjs model. Not part of the variant id: changing it never retrains.',
      properties: {
        onnx: { type: 'boolean', default: true, description: 'Write model.onnx and check it against tfjs on the validation set (onnxruntime).' },
      },
      additionalProperties: false,
      default: {},
    },
    checkpoint: {
      type: 'object',
      description:
        'Checkpoints a variant writes while it trains, so a killed or interrupted run resumes where it stopped (`tunespec run` again; `--restart` retrains from scratch). One at the end of every epoch always. Not part of the variant id: changing it never retrains.',
      properties: {
        every_steps: { type: 'integer', minimum: 1, description: 'Also checkpoint every this many optimizer steps (batches), for long epochs.' },
        keep: {
          type: 'integer',
          minimum: 0,
          maximum: 100,
          default: 0,
          description: 'How many of the last checkpoints a completed variant keeps (in its `checkpoints/` folder); 0 removes them all.',
        },
      },
      additionalProperties: false,
      default: {},
    },
    generation: {
      type: 'object',
      description: 'task: generation: what every completed variant is asked at the end, greedily (kept in completions.json and logged to MLflow as a table). Not part of the variant id.',
      properties: {
        eval_prompts: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          maxItems: 100,
          default: [],
          description: 'Prompts, each put to the model as a training prompt is: as a user message in the chat template when the tokenizer has one, else as written.',
        },
        max_new_tokens: { type: 'integer', minimum: 1, maximum: 4096, default: 32, description: 'The longest completion of an eval prompt; it also ends at the end-of-sequence token.' },
      },
      additionalProperties: false,
      default: {},
    },
    tracking: {
      type: 'object',
      description:
        'Where the sweep is logged besides the local run store. `--tracking-uri` overrides the URI, which overrides `MLFLOW_TRACKING_URI`; credentials belong in `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` or `MLFLOW_TRACKING_TOKEN`, never in a spec.',
      properties: {
        uri: {
          type: 'string',
          pattern: '^https?://[^/@]+(/.*)?$',
          description: 'MLflow tracking server, http(s)://host:port[/prefix], without credentials.',
        },
        experiment: {
          type: 'string',
          minLength: 1,
          maxLength: 500,
          description: 'MLflow experiment name. Defaults to `MLFLOW_EXPERIMENT_NAME`, else the spec name.',
        },
      },
      additionalProperties: false,
      default: {},
    },
    register: {
      type: 'object',
      description:
        'Register the sweep\'s best variant (by `training.objective`) in the MLflow Model Registry when the sweep ends, as `tunespec register best --spec <spec> --name <name>` does. Needs MLflow tracking; not part of the variant id.',
      properties: {
        name: {
          type: 'string',
          minLength: 1,
          maxLength: 256,
          pattern: '^[^/:]+$',
          description: 'Registered model name; each registered variant becomes a version of it (`models:/<name>/<version>`).',
        },
      },
      required: ['name'],
      additionalProperties: false,
    },
    sweep: {
      type: 'object',
      description: 'Dotted paths (`training.learning_rate`, `head.1.rate`) to lists of values; the grid is their cartesian product.',
      propertyNames: { pattern: '^[a-z_]+(\\.([a-z_]+|[0-9]+))*$' },
      additionalProperties: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true },
      default: {},
    },
  },
} as const;

export type ExperimentSchema = typeof experimentSchema;
