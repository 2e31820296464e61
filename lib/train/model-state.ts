/**
 * Trainable state of a model (parameters, optimizer tensors, step counter), its seeded initialization
 * and its file format: magic, u32 header length, JSON header, then raw little-endian float32 blobs.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { optimizerStateNames, type OptimizerConfig } from '../onnx/optimizers.js';
import { paramSize, type ParamSpec } from '../onnx/params.js';
import { createRng } from '../rng.js';

export interface ModelState {
  params: Record<string, Float32Array>;
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
const FORMAT_VERSION = 1;

interface Header {
  version: number;
  step: number;
  /** Absent in files written before it existed, and for states no trainer has recorded a seed in. */
  rngSeed?: number;
  tensors: { group: 'params' | 'optimizer'; name: string; length: number }[];
  extra: Record<string, unknown>;
}

function zeroOptimizer(specs: ParamSpec[], opt: OptimizerConfig): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const s of specs) for (const n of optimizerStateNames(s.name, opt)) out[n] = new Float32Array(paramSize(s));
  return out;
}

/** Deterministic for a seed: one PRNG stream over the specs in order. Kaiming (He) uniform: U(±sqrt(6/fanIn)). */
export function initModelState(specs: ParamSpec[], opt: OptimizerConfig, seed: number): ModelState {
  const rng = createRng(seed);
  const params: Record<string, Float32Array> = {};
  for (const s of specs) {
    const p = new Float32Array(paramSize(s));
    if (s.init === 'kaiming-uniform') {
      const bound = Math.sqrt(6 / s.fanIn);
      for (let i = 0; i < p.length; i++) p[i] = rng.uniform(-bound, bound);
    }
    params[s.name] = p;
  }
  return { params, optimizer: zeroOptimizer(specs, opt), step: 0 };
}

/** Keeps the parameters (shared, not copied); fresh zero optimizer state and step 0, e.g. to fine-tune with a new optimizer. */
export function resetOptimizer(state: ModelState, specs: ParamSpec[], opt: OptimizerConfig): ModelState {
  return { params: state.params, optimizer: zeroOptimizer(specs, opt), step: 0 };
}

/** Throws a descriptive error unless `state` has exactly the tensors that `specs` and `opt` call for. */
export function checkModelState(state: ModelState, specs: ParamSpec[], opt: OptimizerConfig): void {
  const check = (group: Record<string, Float32Array>, what: string, name: string, size: number): void => {
    const t = group[name];
    if (!t) throw new Error(`model state has no ${what} '${name}' (optimizer ${opt.name})`);
    if (t.length !== size) throw new Error(`model state ${what} '${name}' has ${t.length} values, expected ${size}`);
  };
  for (const s of specs) {
    check(state.params, 'parameter', s.name, paramSize(s));
    for (const n of optimizerStateNames(s.name, opt)) check(state.optimizer, 'optimizer tensor', n, paramSize(s));
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`model state step ${state.step} is not a step count`);
  if (state.rngSeed !== undefined && !isSeed(state.rngSeed)) throw new Error(`model state rngSeed ${state.rngSeed} is not a uint32`);
}

function isSeed(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32;
}

/** Atomic: writes a temporary file in the same directory, fsyncs it, then renames it over `path`. */
export async function writeModelState(path: string, state: ModelState, extra: Record<string, unknown> = {}): Promise<void> {
  const groups = [['params', state.params], ['optimizer', state.optimizer]] as const;
  const tensors = groups.flatMap(([group, g]) => Object.entries(g).map(([name, data]) => ({ group, name, data })));
  const header: Header = {
    version: FORMAT_VERSION,
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
  if (header.version !== FORMAT_VERSION) throw corrupt(`unsupported format version ${header.version}`);
  const valid = Number.isInteger(header.step) && (header.rngSeed === undefined || isSeed(header.rngSeed))
    && Array.isArray(header.tensors) && header.tensors.every(
      (t) => (t.group === 'params' || t.group === 'optimizer') && typeof t.name === 'string' && Number.isInteger(t.length) && t.length >= 0,
    );
  if (!valid) throw corrupt('malformed header');
  let offset = dataOffset(jsonLength);
  const expected = offset + 4 * header.tensors.reduce((a, t) => a + t.length, 0);
  if (buf.length !== expected) throw corrupt(`expected ${expected} bytes, found ${buf.length}`);

  const state: ModelState = { params: {}, optimizer: {}, step: header.step };
  if (header.rngSeed !== undefined) state.rngSeed = header.rngSeed;
  for (const t of header.tensors) {
    // slice() copies into a fresh, aligned buffer.
    state[t.group][t.name] = new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + 4 * t.length));
    offset += 4 * t.length;
  }
  return { state, extra: header.extra };
}
