import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
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

  /** Folder of one trigger's published model: its inference graph and its state. */
  modelDir(pipelineId: number, triggerId: number): string {
    return join('models', String(pipelineId), `trigger-${triggerId}`);
  }

  /**
   * Publishes a trained state (store-relative path) of the model `def` as a model: a plain inference `.onnx`
   * with the parameters and buffers inside, plus the state (parameters, buffers and optimizer) for
   * fine-tuning. The trained state is moved, not copied, so the model's state is on disk once. A retried
   * publish whose trained state was already moved republishes from the model's own state file.
   */
  async publish(pipelineId: number, triggerId: number, def: ModelDefinition, trainedState: string) {
    const dir = this.modelDir(pipelineId, triggerId);
    await mkdir(this.resolve(dir), { recursive: true });
    const onnxPath = join(dir, 'model.onnx');
    const statePath = join(dir, 'state.bin');
    // A trained state still in the run folder is newer than any published one (a retrained trigger).
    const source = (await exists(this.resolve(trainedState))) ? trainedState : statePath;
    const { state, extra } = await readModelState(this.resolve(source));
    const onnx = exportInferenceModel(def, state);
    await writeAtomically(this.resolve(onnxPath), onnx);
    if (source !== statePath) await rename(this.resolve(source), this.resolve(statePath));
    return { onnxPath, statePath, sha256: createHash('sha256').update(onnx).digest('hex'), extra };
  }

  /** Deletes a training run's scratch folder (checkpoints, final state); nothing to do when it is gone. */
  async removeRun(pipelineId: number, triggerId: number): Promise<void> {
    await rm(this.resolve(this.runDir(pipelineId, triggerId)), { recursive: true, force: true });
  }

  /** Size in bytes of a store-relative file; 0 when it is gone. */
  async fileSize(relative: string): Promise<number> {
    return stat(this.resolve(relative)).then((s) => s.size, (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return 0;
      throw err;
    });
  }

  /** Deletes a store-relative file and returns the bytes it freed; 0 when it was already gone. */
  async removeFile(relative: string): Promise<number> {
    const size = await this.fileSize(relative);
    await rm(this.resolve(relative), { force: true });
    return size;
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return false;
    throw err;
  });
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path + '.tmp', bytes);
  await rename(path + '.tmp', path);
}
