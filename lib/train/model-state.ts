/**
 * State of a model (parameters, buffers, optimizer tensors, step counter), its seeded initialization and its
 * file format: magic, u32 header length, JSON header, then raw little-endian float32 blobs.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { modelParameters } from '../onnx/models/build.js';
import type { ModelDefinition } from '../onnx/models/model.js';
import { optimizerStateNames, type OptimizerConfig } from '../onnx/optimizers.js';
import { initialValue, paramSize, type ParamSpec } from '../onnx/params.js';
import { createRng } from '../rng.js';

export interface ModelState {
  params: Record<string, Float32Array>;
  /**
   * Non-trainable tensors the forward pass updates in training (BatchNorm running stats), by name; `{}` for
   * models without any. Carried into checkpoints and exported with the parameters.
   */
  buffers: Record<string, Float32Array>;
  optimizer: Record<string, Float32Array>;
  /** Optimizer steps taken so far. */
  step: number;
  /**
   * Seed of the per-step `rng_seed` feed (dropout), recorded by the trainer. With `step` it is all a resumed
   * run needs to feed the same seeds and (schedules being functions of the step) the same learning rates.
   */
  rngSeed?: number;
}

const MAGIC = Buffer.from('TLSTATE1', 'latin1');
/**
 * Version 1: parameters and optimizer tensors only; version 2 adds the `buffers` group. A state without buffers
 * is still written as version 1 (byte-identical to what earlier code wrote, and readable by it); a state with
 * buffers is written as version 2, which earlier code refuses as an unsupported version rather than misreading.
 */
const FORMAT_VERSIONS = [1, 2];

type Group = 'params' | 'buffers' | 'optimizer';
const GROUPS: readonly Group[] = ['params', 'buffers', 'optimizer'];

interface Header {
  version: number;
  step: number;
  /** Absent in files written before it existed, and for states no trainer has recorded a seed in. */
  rngSeed?: number;
  tensors: { group: Group; name: string; length: number }[];
  extra: Record<string, unknown>;
}

function zeroOptimizer(specs: ParamSpec[], opt: OptimizerConfig): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const s of specs) for (const n of optimizerStateNames(s.name, opt)) out[n] = new Float32Array(paramSize(s));
  return out;
}

/**
 * Deterministic for a seed: one PRNG stream over the parameters in declaration order (`initialValue`: Kaiming
 * uniform draws, zeros, ones), then the buffers from their specs (zeros and ones: no draws). Zero optimizer
 * state, step 0.
 */
export function initModelState(def: ModelDefinition, opt: OptimizerConfig, seed: number): ModelState {
  const { params, buffers } = modelParameters(def);
  const rng = createRng(seed);
  const init = (specs: ParamSpec[]) => Object.fromEntries(specs.map((s) => [s.name, initialValue(s, rng)]));
  return { params: init(params), buffers: init(buffers), optimizer: zeroOptimizer(params, opt), step: 0 };
}

/**
 * Keeps the parameters and buffers (shared, not copied); fresh zero optimizer state and step 0, e.g. to
 * fine-tune with a new optimizer. The recorded rngSeed is dropped too: the new run records its own.
 */
export function resetOptimizer(state: ModelState, def: ModelDefinition, opt: OptimizerConfig): ModelState {
  return { params: state.params, buffers: state.buffers, optimizer: zeroOptimizer(modelParameters(def).params, opt), step: 0 };
}

/**
 * Throws a descriptive error, naming the tensor, unless `state` has exactly the parameters and buffers `def`
 * declares, each of the declared size, and the optimizer tensors `opt` needs for them (other optimizer tensors,
 * e.g. left by another optimizer, are ignored: they are not fed and not returned by the trainer).
 */
export function checkModelState(state: ModelState, def: ModelDefinition, opt: OptimizerConfig): void {
  const { params, buffers } = modelParameters(def);
  checkTensors(state.params, params, `parameter`, def.architecture);
  checkTensors(state.buffers, buffers, `buffer`, def.architecture);
  for (const s of params) {
    for (const n of optimizerStateNames(s.name, opt)) {
      const t = state.optimizer[n];
      if (!t) throw new Error(`model state has no optimizer tensor '${n}' (optimizer ${opt.name})`);
      if (t.length !== paramSize(s)) throw new Error(`model state optimizer tensor '${n}' has ${t.length} values, expected ${paramSize(s)}`);
    }
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`model state step ${state.step} is not a step count`);
  if (state.rngSeed !== undefined && !isSeed(state.rngSeed)) throw new Error(`model state rngSeed ${state.rngSeed} is not a uint32`);
}

/** `group` must hold exactly the tensors of `specs`, each of its spec's size. */
function checkTensors(group: Record<string, Float32Array> | undefined, specs: ParamSpec[], what: string, architecture: string): void {
  const have = group ?? {};
  for (const s of specs) {
    const t = have[s.name];
    if (!t) throw new Error(`model state has no ${what} '${s.name}' (model ${architecture})`);
    if (t.length !== paramSize(s)) throw new Error(`model state ${what} '${s.name}' has ${t.length} values, expected ${paramSize(s)}`);
  }
  const declared = new Set(specs.map((s) => s.name));
  const extra = Object.keys(have).find((n) => !declared.has(n));
  if (extra !== undefined) throw new Error(`model state has ${what} '${extra}', which model ${architecture} does not declare`);
}

function isSeed(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32;
}

/** Atomic: writes a temporary file in the same directory, fsyncs it, then renames it over `path`. */
export async function writeModelState(path: string, state: ModelState, extra: Record<string, unknown> = {}): Promise<void> {
  const tensors = GROUPS.flatMap((group) => Object.entries(state[group] ?? {}).map(([name, data]) => ({ group, name, data })));
  const header: Header = {
    version: tensors.some((t) => t.group === 'buffers') ? 2 : 1,
    step: state.step,
    rngSeed: state.rngSeed,
    tensors: tensors.map(({ group, name, data }) => ({ group, name, length: data.length })),
    extra,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(dataOffset(json.length));
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(json.length, MAGIC.length);
  json.copy(prefix, MAGIC.length + 4);

  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writev([prefix, ...tensors.map(({ data }) => Buffer.from(data.buffer, data.byteOffset, data.byteLength))]);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Blobs start 4-byte aligned after the header. */
function dataOffset(jsonLength: number): number {
  return Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
}

/** The `extra` of a file written by writeModelState, reading only its header. */
export async function readModelStateExtra(path: string): Promise<Record<string, unknown>> {
  const corrupt = (why: string): Error => new Error(`model state file ${path} is corrupt or truncated: ${why}`);
  const fh = await open(path, 'r');
  try {
    const prefix = Buffer.alloc(MAGIC.length + 4);
    const { bytesRead } = await fh.read(prefix, 0, prefix.length, 0);
    if (bytesRead !== prefix.length || !prefix.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('bad magic');
    const json = Buffer.alloc(prefix.readUInt32LE(MAGIC.length));
    if ((await fh.read(json, 0, json.length, prefix.length)).bytesRead !== json.length) throw corrupt('header extends past end of file');
    try {
      return (JSON.parse(json.toString('utf8')) as Header).extra ?? {};
    } catch (e) {
      throw corrupt(`unreadable header (${(e as Error).message})`);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Reads a file written by writeModelState. Files without buffers (version 1, as all files written before
 * buffers existed) read with `buffers: {}`: right for every model without buffers, and a model with buffers
 * gets checkModelState's error naming the first missing one rather than silently reset running stats.
 */
export async function readModelState(path: string): Promise<{ state: ModelState; extra: Record<string, unknown> }> {
  const buf = await readFile(path);
  const corrupt = (why: string): Error => new Error(`model state file ${path} is corrupt or truncated: ${why}`);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('bad magic');
  const jsonLength = buf.readUInt32LE(MAGIC.length);
  if (MAGIC.length + 4 + jsonLength > buf.length) throw corrupt('header extends past end of file');
  let header: Header;
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + jsonLength)) as Header;
  } catch (e) {
    throw corrupt(`unreadable header (${(e as Error).message})`);
  }
  if (!FORMAT_VERSIONS.includes(header.version)) throw corrupt(`unsupported format version ${header.version}`);
  const groups: readonly Group[] = header.version === 1 ? ['params', 'optimizer'] : GROUPS;
  const valid = Number.isInteger(header.step) && (header.rngSeed === undefined || isSeed(header.rngSeed))
    && Array.isArray(header.tensors) && header.tensors.every(
      (t) => groups.includes(t.group) && typeof t.name === 'string' && Number.isInteger(t.length) && t.length >= 0,
    );
  if (!valid) throw corrupt('malformed header');
  let offset = dataOffset(jsonLength);
  const expected = offset + 4 * header.tensors.reduce((a, t) => a + t.length, 0);
  if (buf.length !== expected) throw corrupt(`expected ${expected} bytes, found ${buf.length}`);

  const state: ModelState = { params: {}, buffers: {}, optimizer: {}, step: header.step };
  if (header.rngSeed !== undefined) state.rngSeed = header.rngSeed;
  for (const t of header.tensors) {
    // slice() copies into a fresh, aligned buffer.
    state[t.group][t.name] = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + 4 * t.length));
    offset += 4 * t.length;
  }
  return { state, extra: header.extra };
}
