import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Batch } from '../../lib/data/batch.js';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { registerDataset } from '../../lib/data/datasets.js';
import { clearPixelCache } from '../../lib/data/formats/pixel-cache.js';
import { PIXEL_STORE_DIR } from '../../lib/data/formats/pixel-store.js';
import { findNewFiles, ingestFiles } from '../../lib/data/ingest.js';
import { trainingBatches } from '../../lib/data/loader.js';
import { writeTrainingSet } from '../../lib/data/selection.js';
import { createModel } from '../../lib/onnx/models/zoo.js';
import type { OptimizerConfig } from '../../lib/onnx/optimizers.js';
import { initModelState } from '../../lib/train/model-state.js';
import { trainModel } from '../../lib/train/trainer.js';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const SIDE = 8;
const CLASSES = 4;
const IMAGES = 40;
const OPTIMIZER: OptimizerConfig = { name: 'adam', lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

let root: string;
let postgres: TestPostgres;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tideline-pixel-store-it-'));
  postgres = await startTestPostgres();
});
after(async () => {
  await postgres?.stop();
  await rm(root, { recursive: true, force: true });
});

/** Ingests IMAGES solid-grey images (class c: level 60·c) in class folders, then trains one epoch as a new process would. */
async function ingestAndTrain(name: string, datasetRoot: string): Promise<{ warnings: string[]; batches: Batch[] }> {
  for (let i = 0; i < IMAGES; i++) {
    const c = i % CLASSES;
    await mkdir(join(datasetRoot, String(c)), { recursive: true });
    await sharp(Buffer.alloc(SIDE * SIDE * 3, 60 * c), { raw: { width: SIDE, height: SIDE, channels: 3 } }).png().toFile(join(datasetRoot, String(c), `${i}.png`));
  }
  const dataset = await registerDataset(postgres.pool, parseDatasetConfig({
    name, root: datasetRoot, format: { kind: 'image', height: SIDE, width: SIDE, label: { from: 'folder' }, numClasses: CLASSES },
  }));
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const outcomes = await ingestFiles(postgres.pool, dataset, await findNewFiles(postgres.pool, dataset));
    assert.deepEqual(outcomes.map((o) => o.status), new Array(IMAGES).fill('ingested'));
    clearPixelCache();
    await writeTrainingSet(postgres.pool, { pipelineId: dataset.id, triggerId: 1, datasetId: dataset.id, ranges: [{ firstKey: 1, lastKey: IMAGES }], holdout: { fraction: 0, seed: 1 } });
    const batches: Batch[] = [];
    for await (const b of trainingBatches(postgres.pool, dataset, { pipelineId: dataset.id, triggerId: 1, batchSize: 16, seed: 1, epoch: 0 })) {
      for (let r = 0; r < b.size; r++) {
        const x = b.x.subarray(r * b.features, (r + 1) * b.features);
        assert.ok(x.every((v) => Math.abs(v - (60 * b.y[r]!) / 255) < 1e-6), `row ${r} has the pixels of label ${b.y[r]}`);
      }
      batches.push(b);
    }
    assert.equal(batches.reduce((n, b) => n + b.size, 0), IMAGES);
    const model = createModel({ architecture: 'cnn', numClasses: CLASSES, inputShape: [3, SIDE, SIDE], filters: [4, 4] }, 3 * SIDE * SIDE);
    let steps = 0;
    async function* replay(): AsyncGenerator<Batch> {
      yield* batches;
    }
    await trainModel({
      model, optimizer: OPTIMIZER, state: initModelState(model, OPTIMIZER, 1), batches: replay(), checkpointEvery: 0,
      onProgress: (p) => { steps = p.step; },
    });
    assert.equal(steps, batches.length);
    return { warnings, batches };
  } finally {
    process.off('warning', onWarning);
  }
}

describe('pixel store between ingestion and training', () => {
  it('stores every image at ingestion and serves training with an empty memory cache', async () => {
    const datasetRoot = join(root, 'writable');
    const { warnings } = await ingestAndTrain('writable', datasetRoot);
    assert.deepEqual(warnings, []);
    const entries = await readdir(join(datasetRoot, PIXEL_STORE_DIR, `3x${SIDE}x${SIDE}`), { recursive: true });
    assert.equal(entries.filter((e) => e.endsWith('.png.px')).length, IMAGES);
    assert.ok(!entries.some((e) => e.endsWith('.tmp')));
  });

  it('ingests and trains on a root where the store cannot be written, with one warning', async () => {
    const datasetRoot = join(root, 'unwritable');
    await mkdir(datasetRoot, { recursive: true });
    // A file where the store's folder would go fails every write, as a read-only mount does (tests run as root,
    // whom a chmod would not stop).
    await writeFile(join(datasetRoot, PIXEL_STORE_DIR), 'not a folder');
    const { warnings } = await ingestAndTrain('unwritable', datasetRoot);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /decoded images are not stored in .*unwritable\/\.tideline-pixels/);
  });
});
