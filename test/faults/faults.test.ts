import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ingestFiles } from '../../lib/data/ingest.js';
import { controlWorkerKill, devServerKill, gpuWorkerKill } from './faults.js';
import { faultedRun, referenceRun } from './scenario.js';
import { FAMILIES, seededPoints } from './schedule.js';
import { startWorld, type FaultWorld } from './world.js';

/**
 * The short fault suite `npm test` runs: one pipeline through two gpu worker kills at seeded points, a control
 * worker kill and a dev server kill mid-training. `npm run test:faults` runs the full suite with counts.
 */
describe('a pipeline under faults (short suite)', () => {
  const seed = 1;
  let world: FaultWorld;

  before(async () => {
    world = await startWorld();
    const { dataset, files } = await world.addDataset('faults');
    await ingestFiles(world.postgres.pool, dataset, files);
  });

  after(async () => {
    await world?.close();
  });

  it('leaves the triggers, training sets, models (sha256) and evaluations of an uninterrupted run', async () => {
    // While the worker processes start, the reference runs on workers of its own.
    await referenceRun(world, 'faults', seed);
    const [control, server] = seededPoints(seed, 2, ['checkpoint']);
    const gpu = seededPoints(seed + 1, 2, FAMILIES, [control!.point, server!.point]);
    const result = await faultedRun(world, {
      name: 'short', dataset: 'faults', seed,
      planned: [
        ...gpu.map(({ point, delayMs }) => ({ point, delayMs, fault: gpuWorkerKill(world) })),
        { point: control!.point, fault: controlWorkerKill(world) },
        { point: server!.point, fault: devServerKill(world, 1_000) },
      ],
    });
    assert.deepEqual(result.injected.map((i) => i.kind).sort(), [
      'control worker SIGKILLed', 'dev server SIGKILLed, down 1.0 s', 'gpu worker SIGKILLed', 'gpu worker SIGKILLed',
    ]);
    assert.equal(world.gpu.starts, 3);
    assert.equal(world.control.starts, 2);
    for (const i of result.injected) console.log(`  ${i.kind} at ${i.observed}${i.late ? ` (planned: ${i.planned})` : ''}`);
  });
});
