import { z } from 'zod';
import { metricSpecListSchema } from './evaluation/metric-specs.js';
import { planRequestSchema } from './evaluation/plan-request.js';
import { selectionSchema } from './selection/schema.js';
import { triggerSchema } from './triggers/schema.js';

/**
 * The pipeline spec: what a user writes (YAML or JSON) and exactly what `pipelineWorkflow` takes as input,
 * so a pipeline starts the same way from `tide run`, the Temporal CLI, the Web UI or the client SDK.
 */

const positiveInt = z.number().int().positive();

/**
 * Upper bounds of the size fields: generous for any real model (the widest published layers are far below them),
 * yet low enough that a typo such as 2147483647 is refused here, naming the field, instead of failing every
 * training attempt with a RangeError. Whether the whole model fits a worker is checked at registration
 * (activities/model-footprint.ts), where the dataset's feature count is known.
 */
export const SPEC_LIMITS = {
  /** Units of a layer: hidden widths, conv filters, ResNet widths, embedding dimensions. */
  width: 65_536,
  /** Layers in a list of widths. */
  layers: 1_024,
  /** Residual blocks per ResNet stage. */
  blocksPerStage: 1_024,
  /** One image dimension (channels, height, width). */
  imageDim: 65_536,
  numClasses: 1_048_576,
  batchSize: 1_048_576,
  epochs: 100_000,
  /** Any count of optimizer steps: a checkpoint interval, warmup, schedule period. */
  steps: 1_000_000_000,
  /** Optimizer steps stacked in one session run. */
  stepsPerRun: 1_024,
  partitionSize: 16_777_216,
  prefetchPartitions: 64,
  parallelRequests: 256,
  maxTriggers: 1_000_000,
} as const;

/** A positive integer at most `max`; the message names the bound (zod adds the field's path). */
const boundedInt = (max: number, min = 1) => z.number().int().min(min).max(max, `must be at most ${max.toLocaleString('en-US')}`);
const width = boundedInt(SPEC_LIMITS.width);
const widths = z.array(width).max(SPEC_LIMITS.layers, `at most ${SPEC_LIMITS.layers} layers`);
const steps = (min: number) => boundedInt(SPEC_LIMITS.steps, min);

/** A parameter group: parameters whose name starts with `match` get their own learning rate / weight decay. */
const paramGroupSchema = z.strictObject({
  match: z.string().min(1),
  lr: z.number().positive().optional(),
  weightDecay: z.number().min(0).optional(),
});

const optimizerCommon = {
  lr: z.number().positive(),
  weightDecay: z.number().min(0).default(0),
  /** Global-norm gradient clipping threshold. */
  clipGradNorm: z.number().positive().optional(),
  groups: z.array(paramGroupSchema).optional(),
};
const adamHyper = {
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  eps: z.number().positive().default(1e-8),
};

const optimizerSchema = z.discriminatedUnion('name', [
  z.strictObject({
    name: z.literal('sgd'),
    ...optimizerCommon,
    momentum: z.number().min(0).max(1).default(0.9),
    nesterov: z.boolean().default(false),
  }),
  z.strictObject({ name: z.literal('adam'), ...optimizerCommon, ...adamHyper }),
  z.strictObject({ name: z.literal('adamw'), ...optimizerCommon, ...adamHyper }),
]);

/** Learning-rate schedule over the steps of one trigger's training, computed outside the graph. */
const warmupSteps = steps(0).optional();
const scheduleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant'), warmupSteps }),
  z.strictObject({ kind: z.literal('step'), every: steps(1), gamma: z.number().positive(), warmupSteps }),
  z.strictObject({ kind: z.literal('cosine'), totalSteps: steps(1), minLr: z.number().min(0).optional(), warmupSteps }),
]);

const numClasses = boundedInt(SPEC_LIMITS.numClasses, 2);
/** Image models read each sample's float32 features as [channels, height, width]. */
const imageDim = boundedInt(SPEC_LIMITS.imageDim);
const inputShape = z.tuple([imageDim, imageDim, imageDim]);

/** A user graph file: an absolute path or `store:<path>` (see the 'onnx' model entry). */
const graphPath = z.string().min(1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected a sha256 as 64 lowercase hex digits');

/** The model zoo: one entry per architecture (lib/onnx/models/), built for the dataset's feature count. */
/**
 * Standardize the features before the first layer, with each trigger's training-set mean and standard deviation,
 * baked into the model (lib/onnx/layers/standardize.ts): for tabular features of very different scales.
 */
const standardize = z.boolean().optional();

const modelSchema = z.discriminatedUnion('architecture', [
  z.strictObject({ architecture: z.literal('logisticRegression'), numClasses, standardize }),
  z.strictObject({
    architecture: z.literal('mlp'),
    hidden: widths.default([128]),
    numClasses,
    dropout: z.number().min(0).lt(1).optional(),
    standardize,
  }),
  z.strictObject({
    architecture: z.literal('cnn'),
    numClasses,
    inputShape,
    /** Output channels of each conv block (each halves the image). */
    filters: widths.min(1).default([32, 32]),
  }),
  z.strictObject({
    architecture: z.literal('resnet'),
    numClasses,
    inputShape,
    widths: widths.min(1).default([16, 32, 64]),
    blocksPerStage: boundedInt(SPEC_LIMITS.blocksPerStage).default(1),
  }),
  /**
   * Bag-of-words text classifier over a text dataset's hashed token ids: ids mod vocabSize pick rows of an
   * embedding table, averaged per sample, then an MLP of `hidden` widths and a Linear to numClasses. A table of
   * more than 1M values (vocabSize · embeddingDim) is held in JS memory with a row-sparse update, as dlrm's; at
   * most 2^28 values.
   */
  z
    .strictObject({
      architecture: z.literal('textClassifier'),
      numClasses,
      /** Hash buckets: rows of the embedding table. */
      vocabSize: positiveInt.default(32768),
      embeddingDim: width.default(32),
      hidden: widths.default([]),
    })
    .superRefine((m, ctx) => {
      if (m.vocabSize * m.embeddingDim > 2 ** 28) {
        ctx.addIssue({ code: 'custom', path: ['vocabSize'], message: `vocabSize ${m.vocabSize} × embeddingDim ${m.embeddingDim} exceeds 2^28 table values` });
      }
    }),
  /**
   * DLRM click model (binary, one logit): the dataset's float features feed the bottom MLP, its categorical ids
   * (raw; hashed in the graph, id mod vocabSize) one embedding table each. Small tables live in the graph; a table
   * of more than 1M values (vocabSize · embeddingDim), or the largest ones when the graph's would exceed 2M in all,
   * are held in JS memory with a row-sparse update (lib/onnx/models/dlrm.ts). vocabSize · embeddingDim ·
   * (categorical fields) must stay within 2^28 values (1 GiB of tables; 26 fields of 500k × 16 fit); the field
   * count is the dataset's, so the model zoo checks the product, and this schema one table's share of it.
   */
  z
    .strictObject({
      architecture: z.literal('dlrm'),
      /** Rows of each categorical feature's table. */
      vocabSize: positiveInt.default(4096),
      embeddingDim: width.default(16),
      /** Bottom MLP widths; the last must equal embeddingDim. */
      bottom: widths.min(1).default([64, 16]),
      /** Top MLP hidden widths; a Linear to the single logit follows. */
      top: widths.default([64]),
    })
    .superRefine((m, ctx) => {
      if (m.bottom.at(-1) !== m.embeddingDim) {
        ctx.addIssue({ code: 'custom', path: ['bottom'], message: `the bottom MLP [${m.bottom.join(', ')}] must end with embeddingDim ${m.embeddingDim}` });
      }
      if (m.vocabSize * m.embeddingDim > 2 ** 28) {
        ctx.addIssue({ code: 'custom', path: ['vocabSize'], message: `vocabSize ${m.vocabSize} × embeddingDim ${m.embeddingDim} exceeds 2^28 table values` });
      }
    }),
  /**
   * A user's own ONNX graph pair, following the contract of lib/onnx/contract/contract.ts. Each graph is an
   * absolute path that every worker can read (a shared volume) or `store:<path>`, relative to the model store.
   * `tide run` copies files given by path (absolute, or relative to the spec file) into the store,
   * content-addressed (`store:graphs/<sha256>/<file>`), and fills in the hashes; a pipeline is refused without them, and every worker that loads a graph checks
   * its hash, so an edited file can never silently change a running pipeline.
   */
  z.strictObject({
    architecture: z.literal('onnx'),
    trainStep: graphPath,
    inference: graphPath,
    trainStepSha256: sha256.optional(),
    inferenceSha256: sha256.optional(),
    loss: z.enum(['softmax-ce', 'bce-logits', 'mse']),
    /** Classes for softmax-ce; needed only when the inference graph's `output` does not declare them. */
    numClasses: numClasses.optional(),
  }),
]);

export const pipelineSpecSchema = z.strictObject({
  dataset: z.strictObject({ name: z.string().min(1) }),
  model: modelSchema,
  training: z
    .strictObject({
      epochs: boundedInt(SPEC_LIMITS.epochs).default(1),
      batchSize: boundedInt(SPEC_LIMITS.batchSize).default(64),
      optimizer: optimizerSchema,
      schedule: scheduleSchema.optional(),
      /** Fine-tune from the previous trigger's model, or train each trigger's model from scratch. */
      initialization: z.enum(['finetune', 'scratch']).default('finetune'),
      /** When fine-tuning, continue the previous model's optimizer state instead of starting it afresh. */
      keepOptimizerState: z.boolean().default(false),
      seed: z.number().int().min(0).default(0),
      checkpointEvery: steps(0).default(100),
      /**
       * Optimizer steps per session run (an ONNX Scan over stacked batches): fewer round trips for small models, the
       * same results whatever it is. Absent: the trainer chooses from its first steps' times (lib/train/steps-per-run.ts),
       * and runs single steps for user graphs and batchThenSample downsampling.
       */
      stepsPerRun: boundedInt(SPEC_LIMITS.stepsPerRun).optional(),
      /**
       * Fail the trigger (non-retryable 'Diverged') when its final loss is far above its first step's
       * (lib/train/divergence.ts); absent or false: keep the model, with a warning on its row.
       */
      failOnDivergence: z.boolean().optional(),
      /**
       * How the loader reads ahead (Modyn's num_prefetched_partitions and parallel_prefetch_requests). Only
       * partitionSize changes the batches (samples are shuffled within a partition); absent keys take the
       * loader's defaults (partitionSize from the feature count, 1 partition ahead, 1 request).
       */
      loader: z
        .strictObject({
          partitionSize: boundedInt(SPEC_LIMITS.partitionSize).optional(),
          prefetchPartitions: boundedInt(SPEC_LIMITS.prefetchPartitions, 0).optional(),
          parallelRequests: boundedInt(SPEC_LIMITS.parallelRequests).optional(),
        })
        .optional(),
    }),
  trigger: triggerSchema,
  selection: selectionSchema.prefault({}),
  evaluation: z
    .strictObject({
      /** Moved: the holdout is the dataset's (its config's `holdout`), so pipelines over it compare fairly. */
      holdoutFraction: z
        .never({ error: 'the holdout is the dataset\'s now: set `holdout: { fraction, seed }` in the dataset config' })
        .optional(),
      /** Samples per inference run; absent: sized to about 8 MB of input (lib/eval/model-outputs.ts). */
      batchSize: boundedInt(SPEC_LIMITS.batchSize).optional(),
      /** What every evaluation cell measures (lib/eval/metrics/): accuracy, loss and macro F1 by default. */
      metrics: metricSpecListSchema,
      /** Which models are evaluated on which intervals (policies/evaluation/matrix.ts): the whole matrix by default. */
      models: z.enum(['matrix', 'active', 'trained']).default('matrix'),
      /** Evaluations in sample time run when the pipeline ends (workflows/evaluation.ts), each with its own intervals, models and data. */
      afterPipeline: z.array(planRequestSchema).default([]),
    })
    .prefault({}),
  queues: z
    .strictObject({ cpu: z.string().min(1).default('tideline-cpu'), gpu: z.string().min(1).default('tideline-gpu') })
    .default({ cpu: 'tideline-cpu', gpu: 'tideline-gpu' }),
  /** Stop after this many triggers (useful for bounded experiments); unbounded if absent. */
  maxTriggers: boundedInt(SPEC_LIMITS.maxTriggers).optional(),
  /**
   * The end of the stream: the pipeline completes by itself once it has seen every sample up to this key (a batch
   * that goes past it counts only up to it) and run every trigger its policy asks for up to there. Experiments set
   * it so that every variant sees the same data; unbounded if absent.
   */
  until: z.strictObject({ key: positiveInt }).optional(),
}).superRefine((spec, ctx) => {
  spec.selection.downsampling?.forEach((d, i) => {
    if (d.mode === 'batchThenSample' && (spec.training.stepsPerRun ?? 1) > 1) {
      ctx.addIssue({
        code: 'custom', path: ['selection', 'downsampling', ...(spec.selection.downsampling!.length > 1 ? [i] : []), 'mode'],
        message: `batchThenSample scores each batch with the model of the step before, so it needs training.stepsPerRun 1 (it is ${spec.training.stepsPerRun})`,
      });
    }
  });
});

export type PipelineSpecInput = z.input<typeof pipelineSpecSchema>;
export type PipelineSpec = z.output<typeof pipelineSpecSchema>;
export type OptimizerSpec = PipelineSpec['training']['optimizer'];
export type ScheduleSpec = NonNullable<PipelineSpec['training']['schedule']>;
export type ModelSpec = PipelineSpec['model'];
export type { TriggerSpec } from './triggers/schema.js';
export type { SelectionSpec } from './selection/schema.js';

/** A spec that failed validation; `issues` lists each bad field as "path: message". */
export class SpecError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid pipeline spec:\n  ${issues.join('\n  ')}`);
    this.name = 'SpecError';
  }
}

/** Validates a spec and fills in defaults; throws SpecError naming the path of every bad field. */
export function parseSpec(input: unknown): PipelineSpec {
  const result = pipelineSpecSchema.safeParse(input);
  if (result.success) return result.data;
  throw new SpecError(
    result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`),
  );
}
