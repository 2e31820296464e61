import { Worker } from '@temporalio/worker';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WORKFLOWS_PATH } from '../../workers/plugin.js';

const HISTORIES = fileURLToPath(new URL('./histories/', import.meta.url));

/**
 * The recorder names files `<workflowId>.run-N.json`, and `<pipeline>.<child>.json` for the child workflows
 * `<pipeline>/trigger-N` and `<pipeline>/after-pipeline-N`.
 */
function workflowIdOf(file: string): string {
  return file.replace(/\.run-\d+\.json$/, '').replace(/\.((?:trigger|after-pipeline)-\d+)\.json$/, '/$1');
}

describe('replay of recorded workflow histories', () => {
  it('replays every history under test/replay/histories with today\'s workflow code', async () => {
    const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
    assert.ok(files.length >= 4, `expected recorded histories, found ${files.length}`);
    const histories = await Promise.all(
      files.map(async (file) => ({ workflowId: workflowIdOf(file), history: JSON.parse(await readFile(join(HISTORIES, file), 'utf8')) })),
    );
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: WORKFLOWS_PATH, replayName: 'tideline-replay' }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
