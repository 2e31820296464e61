import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { getDataset, registerDataset, type Dataset } from '../../lib/data/datasets.js';
import { findNewFiles, ingestFiles } from '../../lib/data/ingest.js';
import { trainingBatches } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { listEvaluations } from '../../lib/pipelines/evaluations.js';
import { listModels } from '../../lib/pipelines/models.js';
import { createRng, type Rng } from '../../lib/rng.js';
import type { PipelineSpecInput } from '../../policies/spec.js';
import type { pipelineWorkflow } from '../../workflows/pipeline.js';
import { failureMessage, stopAfterTriggers } from '../helpers/pipelines.js';
import type { TestPostgres } from '../helpers/postgres.js';
import type { TestTemporal } from '../helpers/temporal.js';
import { startTestWorld, type TestWorld } from '../helpers/world.js';

const DAY = 86_400;
const SIDE = 8;
const CLASSES = ['north-west', 'north-east', 'south-west', 'south-east'];
const TOPICS = [['goal', 'match', 'league', 'coach'], ['stock', 'market', 'shares', 'bank'], ['rain', 'storm', 'sunny', 'wind']];

/** An SIDE×SIDE RGB PNG or JPEG of noise with a bright 4×4 square in the quadrant of class c. */
async function writeQuadrantImage(path: string, c: number, rng: Rng, type: 'png' | 'jpeg'): Promise<void> {
  const raw = Buffer.alloc(SIDE * SIDE * 3);
  const [top, left] = [c >> 1 ? SIDE / 2 : 0, c & 1 ? SIDE / 2 : 0];
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const bright = y >= top && y < top + SIDE / 2 && x >= left && x < left + SIDE / 2;
      for (let ch = 0; ch < 3; ch++) raw[(y * SIDE + x) * 3 + ch] = (bright ? 170 : 20) + rng.int(60);
    }
  }
  const image = sharp(raw, { raw: { width: SIDE, height: SIDE, channels: 3 } });
  await (type === 'png' ? image.png() : image.jpeg({ quality: 95 })).toFile(path);
}

/** Lines `label<TAB>timestamp<TAB>text`: filler words and one or two words of the label's topic. */
function newsLines(rng: Rng, count: number, startTs: number): string {
  return Array.from({ length: count }, (_, i) => {
    const c = rng.int(TOPICS.length);
    const words = Array.from({ length: 3 + rng.int(5) }, () => `filler${rng.int(300)}`);
    for (let m = 1 + rng.int(2); m > 0; m--) words.splice(rng.int(words.length + 1), 0, TOPICS[c]![rng.int(4)]!);
    return `${c}\t${startTs + i * 60}\t${words.join(' ')}, Today!`;
  }).join('\n');
}

describe('image and text datasets end to end (real Temporal dev server, PostgreSQL, ONNX Runtime, sharp)', () => {
  let temporal: TestTemporal;
  let postgres: TestPostgres;
  let root: string;
  let world: TestWorld | undefined;
  const queues = { cpu: 'formats-cpu', gpu: 'formats-gpu' };

  const spec = (overrides: Partial<PipelineSpecInput>): PipelineSpecInput => ({
    dataset: { name: 'quadrants' },
    model: { architecture: 'cnn', numClasses: 4, inputShape: [3, SIDE, SIDE], filters: [8, 16] },
    training: { epochs: 3, batchSize: 16, optimizer: { name: 'adam', lr: 0.01 }, seed: 3 },
    trigger: { kind: 'dataAmount', every: 160 },
    queues,
    ...overrides,
  });

  /** Ingests every new sample file of the dataset; all of them must be ingested. */
  async function ingestAll(dataset: Dataset): Promise<number> {
    const outcomes = await ingestFiles(postgres.pool, dataset, await findNewFiles(postgres.pool, dataset));
    assert.deepEqual(outcomes.filter((o) => o.status !== 'ingested'), []);
    return outcomes.length;
  }

  before(async () => {
    world = await startTestWorld('formats-e2e', queues);
    ({ temporal, postgres, root } = world);
    await world.runWorkers();
  });

  after(() => world?.stop());

  it('trains the CNN on one-image-per-file PNG and JPEG samples labelled by class folder, and evaluates every model', async () => {
    const imageRoot = join(root, 'quadrants');
    await mkdir(imageRoot, { recursive: true });
    const dataset = await registerDataset(postgres.pool, parseDatasetConfig({
      name: 'quadrants', root: imageRoot,
      format: { kind: 'image', height: SIDE, width: SIDE, mean: [0.5], std: [0.25], label: { from: 'folder', classes: CLASSES }, timestamp: { from: 'sidecar', suffix: '.ts' } },
    }));
    const rng = createRng(5);
    // Two days of 40 images per class; each day is ingested on its own, so each trigger sees every class.
    for (let day = 0; day < 2; day++) {
      for (const [c, name] of CLASSES.entries()) {
        await mkdir(join(imageRoot, name), { recursive: true });
        for (let i = 0; i < 40; i++) {
          const file = join(imageRoot, name, `d${day}-${i}.${i % 2 ? 'png' : 'jpg'}`);
          await writeQuadrantImage(file, c, rng, i % 2 ? 'png' : 'jpeg');
          await writeFile(`${file}.ts`, String(day * DAY + i * 60));
        }
      }
      assert.equal(await ingestAll(dataset), 160, 'the .ts sidecars are not samples');
    }
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'image-pipeline', args: [spec({})],
    });
    const summary = await stopAfterTriggers(handle, 2);
    assert.deepEqual([summary.models, summary.samplesSeen], [2, 320]);
    const models = await listModels(postgres.pool, summary.pipelineId);
    assert.ok(models.every((m) => (m.architecture as { architecture: string }).architecture === 'cnn'));
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 4, 'a full 2×2 evaluation matrix');
    assert.ok(evaluations.every((e) => e.numSamples > 0 && e.accuracy! > 0.7), evaluations.map((e) => e.accuracy).join(', '));
  });

  it('streams every image once per epoch, decoded ahead in chunks, each with the pixels of its own label', async () => {
    const dataset = (await getDataset(postgres.pool, 'quadrants'))!;
    await writeTrainingSet(postgres.pool, { pipelineId: 999, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: 320 }], holdout: { fraction: 0, seed: 1 } });
    let seen = 0;
    for await (const b of trainingBatches(postgres.pool, dataset, { pipelineId: 999, triggerId: 1, batchSize: 48, seed: 2, epoch: 0 })) {
      for (let r = 0; r < b.size; r++) {
        // The brightest quadrant of the red plane (normalized with mean 0.5, std 0.25) is the label's.
        const plane = b.x.subarray(r * 3 * SIDE * SIDE, r * 3 * SIDE * SIDE + SIDE * SIDE);
        const sums = [0, 0, 0, 0];
        plane.forEach((v, p) => { sums[(Math.floor(p / SIDE) >= SIDE / 2 ? 2 : 0) + (p % SIDE >= SIDE / 2 ? 1 : 0)]! += v; });
        assert.equal(sums.indexOf(Math.max(...sums)), b.y[r], `sample ${seen + r}`);
      }
      seen += b.size;
    }
    assert.equal(seen, 320);
  });

  it('trains the textClassifier on hashed tokens of text lines, and refuses a model that needs float features', async () => {
    const textRoot = join(root, 'news');
    await mkdir(textRoot, { recursive: true });
    const dataset = await registerDataset(postgres.pool, parseDatasetConfig({
      name: 'news', root: textRoot, format: { kind: 'text', timestamp: true, maxTokens: 12, numClasses: 3 },
    }));
    const rng = createRng(8);
    await writeFile(join(textRoot, 'day-0.tsv'), newsLines(rng, 500, 0));
    await writeFile(join(textRoot, 'day-1.tsv'), `${newsLines(rng, 500, DAY)}\n`);
    assert.equal(await ingestAll(dataset), 2);
    const textSpec = spec({
      dataset: { name: 'news' },
      model: { architecture: 'textClassifier', numClasses: 3, vocabSize: 2048, embeddingDim: 16, hidden: [16] },
      training: { epochs: 4, batchSize: 32, optimizer: { name: 'adam', lr: 0.02 }, seed: 3 },
      trigger: { kind: 'dataAmount', every: 500 },
    });
    const handle = await temporal.client.workflow.start<typeof pipelineWorkflow>('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'text-pipeline', args: [textSpec],
    });
    const summary = await stopAfterTriggers(handle, 2);
    assert.deepEqual([summary.models, summary.samplesSeen], [2, 1000]);
    const evaluations = await listEvaluations(postgres.pool, summary.pipelineId);
    assert.equal(evaluations.length, 4, 'a full 2×2 evaluation matrix');
    assert.ok(evaluations.every((e) => e.numSamples > 0 && e.accuracy! > 0.8), evaluations.map((e) => e.accuracy).join(', '));

    const refused = temporal.client.workflow.execute('pipelineWorkflow', {
      taskQueue: queues.cpu, workflowId: 'mlp-on-text', args: [{ ...textSpec, model: { architecture: 'mlp', numClasses: 3 } }],
    });
    await assert.rejects(refused, (err: unknown) => {
      assert.match(failureMessage(err), /model\.architecture: mlp needs float features/);
      return true;
    });
  });

  it('rejects a corrupt image and an image without its label file, with reasons, and ingests the others', async () => {
    const sideRoot = join(root, 'sidecars');
    await mkdir(join(sideRoot, 'shots'), { recursive: true });
    const dataset = await registerDataset(postgres.pool, parseDatasetConfig({
      name: 'sidecars', root: sideRoot, format: { kind: 'image', channels: 1, height: SIDE, width: SIDE, label: { from: 'sidecar' }, numClasses: 4 },
    }));
    const rng = createRng(9);
    for (let i = 0; i < 5; i++) {
      await writeQuadrantImage(join(sideRoot, 'shots', `ok-${i}.png`), i % 4, rng, 'png');
      await writeFile(join(sideRoot, 'shots', `ok-${i}.png.label`), String(i % 4));
    }
    await writeFile(join(sideRoot, 'shots', 'corrupt.png'), Buffer.from('\x89PNG\r\n\x1a\n not really'));
    await writeFile(join(sideRoot, 'shots', 'corrupt.png.label'), '1');
    await writeQuadrantImage(join(sideRoot, 'shots', 'unlabelled.jpg'), 2, rng, 'jpeg');
    await writeFile(join(sideRoot, 'shots', 'notes.txt'), 'not a sample');

    const found = await findNewFiles(postgres.pool, dataset);
    assert.deepEqual(found, ['shots/corrupt.png', 'shots/ok-0.png', 'shots/ok-1.png', 'shots/ok-2.png', 'shots/ok-3.png', 'shots/ok-4.png', 'shots/unlabelled.jpg']);
    const outcomes = await ingestFiles(postgres.pool, dataset, found);
    const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [[o.path, o.error.message]] : []));
    assert.equal(rejected.length, 2);
    assert.equal(rejected[0]![0], 'shots/corrupt.png');
    assert.match(rejected[0]![1]!, /^shots\/corrupt\.png: image does not decode: /);
    assert.deepEqual(rejected[1], ['shots/unlabelled.jpg', 'shots/unlabelled.jpg: missing label file shots/unlabelled.jpg.label']);
    assert.equal(outcomes.filter((o) => o.status === 'ingested').length, 5);
    const { rows } = await postgres.pool.query<{ label: number }>('SELECT label FROM samples WHERE dataset_id = $1 ORDER BY sample_key', [dataset.id]);
    assert.deepEqual(rows.map((r) => r.label), [0, 1, 2, 3, 0]);
  });
});
