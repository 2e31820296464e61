/**
 * A user's ONNX graph files, as a pipeline spec names them (`model.trainStep`, `model.inference`):
 *  - `store:<path>`: relative to the model store, which every worker mounts. `tide run` copies the user's files
 *    there, content-addressed as `store:graphs/<sha256>/<file name>`, so no later edit can touch them;
 *  - an absolute path: read as is, so it must be on a volume every worker mounts.
 * The spec pins each file's sha256 (`model.trainStepSha256`, `model.inferenceSha256`); every load checks it, so
 * a file edited after the pipeline started fails the load with a message instead of silently changing the model.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { ModelSpec } from '../../policies/spec.js';
import { batchInputs } from '../onnx/batch-feeds.js';
import { importModel } from '../onnx/models/imported.js';
import type { ModelDefinition, ModelInput } from '../onnx/models/model.js';
import type { ModelStore } from './store.js';

export type UserModelSpec = Extract<ModelSpec, { architecture: 'onnx' }>;

const STORE_PREFIX = 'store:';

/** Whether a spec's graph reference is in the model store (else it is a path). */
function isStoreReference(ref: string): boolean {
  return ref.startsWith(STORE_PREFIX);
}

/** A graph that cannot be used; the message names the spec field and the file. */
export class UserGraphError extends Error {}

export function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Absolute path of a spec's graph reference; refuses a relative path, which workers elsewhere cannot resolve. */
function resolveGraphPath(store: ModelStore, ref: string): string {
  if (isStoreReference(ref)) return store.resolve(ref.slice(STORE_PREFIX.length));
  if (isAbsolute(ref)) return ref;
  throw new Error(`'${ref}' is a relative path, which workers cannot resolve: give an absolute path on a volume every worker mounts, or start the pipeline with \`tide run\`, which copies the file into the model store`);
}

/**
 * The model spec with its graph files, given by path (relative to `baseDir`, e.g. the spec file's folder, or
 * absolute), pinned into the store: it then names them `store:graphs/<sha256>/<file>` with their hashes, so
 * every worker reads the same bytes whatever later happens to the user's files. A hash the spec already gives
 * must match its file. `store:` references are kept as they are. (`tide run` does this.)
 */
export async function pinUserModel(store: ModelStore, model: UserModelSpec, baseDir: string): Promise<UserModelSpec> {
  const pinned = { ...model };
  for (const field of ['trainStep', 'inference'] as const) {
    if (isStoreReference(model[field])) continue;
    const path = resolve(baseDir, model[field]);
    const bytes = await readGraphBytes(path).catch((err: Error) => {
      throw new UserGraphError(`model.${field}: ${err.message}`);
    });
    const sha256 = sha256Of(bytes);
    const given = model[`${field}Sha256`];
    if (given && given !== sha256) throw new UserGraphError(`model.${field}Sha256: ${given}, but ${path} has sha256 ${sha256}`);
    pinned[field] = `${STORE_PREFIX}${await storeGraph(store, bytes, sha256, basename(path))}`;
    pinned[`${field}Sha256`] = sha256;
  }
  return pinned;
}

/** Writes a graph into the store at `graphs/<sha256>/<name>` (atomically); returns that store-relative path. */
async function storeGraph(store: ModelStore, bytes: Uint8Array, sha256: string, name: string): Promise<string> {
  const relative = join('graphs', sha256, name);
  const target = store.resolve(relative);
  await mkdir(join(target, '..'), { recursive: true });
  await writeFile(`${target}.${process.pid}.tmp`, bytes);
  await rename(`${target}.${process.pid}.tmp`, target);
  return relative;
}

/** The graph a spec names, after checking its sha256 against the pinned one. */
async function readPinnedGraph(store: ModelStore, ref: string, sha256: string): Promise<Uint8Array> {
  const bytes = await readGraphBytes(resolveGraphPath(store, ref));
  const actual = sha256Of(bytes);
  if (actual !== sha256) {
    throw new Error(`its sha256 is ${actual}, but the spec pins ${sha256}: the file changed after the pipeline was started`);
  }
  return bytes;
}

async function readGraphBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

/**
 * The spec's user graphs as a model for the dataset's samples (`features` floats and `categoricalCount` ids
 * each): read and hash-checked, imported (lib/onnx/models/imported.ts), and their inputs checked to be what the
 * dataset's batches feed. Throws a UserGraphError naming the field and the file. The train step's contract check
 * for the optimizer happens when it is built (buildTrainStep).
 */
export async function loadUserModel(store: ModelStore, spec: UserModelSpec, features: number, categoricalCount: number): Promise<ModelDefinition> {
  const read = async (field: 'trainStep' | 'inference') => {
    const label = `model.${field} (${spec[field]})`;
    const sha256 = spec[`${field}Sha256`];
    if (!sha256) {
      throw new UserGraphError(`model.${field}Sha256: missing; \`tide run\` pins the graph files, or give the sha256 of ${spec[field]} (e.g. from sha256sum)`);
    }
    try {
      return { label, bytes: await readPinnedGraph(store, spec[field], sha256) };
    } catch (err) {
      throw new UserGraphError(`${label}: ${(err as Error).message}`);
    }
  };
  const trainStep = await read('trainStep');
  const inference = await read('inference');
  let def: ModelDefinition;
  try {
    def = importModel(trainStep, inference, { loss: spec.loss, numClasses: spec.numClasses });
  } catch (err) {
    throw new UserGraphError((err as Error).message);
  }
  checkFeedable(def.inputs, features, categoricalCount, inference.label);
  return def;
}

/** The inputs must be what the dataset's batches feed (batchInputs of lib/onnx/batch-feeds.ts), with the dataset's widths. */
function checkFeedable(inputs: ModelInput[], features: number, categoricalCount: number, label: string): void {
  const refuse = (why: string) => new UserGraphError(`${label}: ${why}`);
  let fed: ReturnType<typeof batchInputs>;
  try {
    fed = batchInputs({ architecture: 'onnx', inputs }, 'inference graph');
  } catch (err) {
    throw refuse((err as Error).message);
  }
  if (!fed.float && features > 0) {
    throw refuse(`the graph has no float32 input, but the dataset's samples have ${features} features`);
  }
  if (fed.float && fed.float.features !== features) {
    throw refuse(`input '${fed.float.name}' [B, ${fed.float.dims.join(', ')}] takes ${fed.float.features} values per sample, but the dataset's samples have ${features} features`);
  }
  if (fed.ids && fed.ids.categorical !== categoricalCount) {
    const have = categoricalCount ? `${categoricalCount} categorical ids` : 'no categorical ids';
    throw refuse(`input '${fed.ids.name}' [B, ${fed.ids.categorical}] takes ${fed.ids.categorical} categorical ids per sample, but the dataset's samples have ${have}`);
  }
}
