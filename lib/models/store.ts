import { createHash } from 'node:crypto';
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { ModelDefinition } from '../onnx/models/model.js';
import { readModelState } from '../train/model-state.js';
import { exportInferenceModel } from './export.js';

/**
 * The model store: a folder (shared by all workers in a distributed deployment). Paths handed between
 * activities and kept in PostgreSQL are relative to it, so each worker may mount it where it likes.
 */
export class ModelStore {
  constructor(readonly root: string) {}

  /** Absolute path of a store-relative path; refuses paths that would leave the store. */
  resolve(relative: string): string {
    const path = resolve(this.root, relative);
    if (path !== this.root && !path.startsWith(this.root + sep)) throw new Error(`"${relative}" is outside the model store`);
    return path;
  }

  /** Scratch folder of one training run: its checkpoints and final state. */
  runDir(pipelineId: number, triggerId: number): string {
    return join('runs', String(pipelineId), `trigger-${triggerId}`);
  }

  /**
   * Publishes a trained state (store-relative path) of the model `def` as a model: a plain inference `.onnx`
   * with the parameters and buffers inside, plus the state (parameters, buffers and optimizer) for
   * fine-tuning. Rewriting the same trigger's model is harmless.
   */
  async publish(pipelineId: number, triggerId: number, def: ModelDefinition, trainedState: string) {
    const dir = join('models', String(pipelineId), `trigger-${triggerId}`);
    await mkdir(this.resolve(dir), { recursive: true });
    const { state } = await readModelState(this.resolve(trainedState));
    const onnx = exportInferenceModel(def, state);
    const onnxPath = join(dir, 'model.onnx');
    const statePath = join(dir, 'state.bin');
    await writeAtomically(this.resolve(onnxPath), onnx);
    await copyFile(this.resolve(trainedState), this.resolve(statePath) + '.tmp');
    await rename(this.resolve(statePath) + '.tmp', this.resolve(statePath));
    return { onnxPath, statePath, sha256: createHash('sha256').update(onnx).digest('hex') };
  }
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path + '.tmp', bytes);
  await rename(path + '.tmp', path);
}
