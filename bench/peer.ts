/**
 * Tideline's trainer against PyTorch on the same zoo models (bench/peers/torch_zoo.py builds them as lib/onnx/models
 * does), in interleaved rounds: each round measures every (model, batch size) once with each, back to back, the
 * order flipping between rounds so neither side always runs on a machine the other just warmed or loaded. Both use
 * the intra-op thread count of Tideline's sessions. A model whose parameter counts differ is a different model, and
 * fails the benchmark.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Batch } from '../lib/data/batch.js';
import { modelParameters } from '../lib/onnx/models/build.js';
import type { ModelDefinition } from '../lib/onnx/models/model.js';
import { createModel } from '../lib/onnx/models/zoo.js';
import { paramSize } from '../lib/onnx/params.js';
import { spread, type Spread } from './rounds.js';
import { BENCH_MODELS, randomBatch, rawLoop, trainerRun } from './train.js';

const SCRIPT = fileURLToPath(new URL('./peers/torch_zoo.py', import.meta.url));
const INSTALL = '`pip3 install torch` (bench/README.md, `tide bench peer`, has the size and details)';
/** torch_zoo.py's exit status when `import torch` fails. */
const NO_TORCH = 3;

/** One round's measurement of one (model, batch size). */
export interface PeerSample {
  model: string;
  batchSize: number;
  tidelineSamplesPerS: number;
  torchSamplesPerS: number;
}

export interface PeerRow {
  model: string;
  batchSize: number;
  tidelineParams: number;
  torchParams: number;
  tidelineSamplesPerS: Spread;
  torchSamplesPerS: Spread;
  /** Tideline ÷ PyTorch samples/s, paired within each round. */
  ratio: Spread;
}

export interface PeerReport {
  benchmark: 'peer';
  torch: string;
  threads: number;
  seconds: number;
  rounds: number;
  rows: PeerRow[];
  /** The lowest median ratio over all rows. */
  min_ratio_vs_torch: number;
}

interface TorchResult { samplesPerS: number; params: number; torch: string }

/** Throws, naming the model, unless both implementations have the same number of parameters. */
export function checkParams(model: string, tideline: number, torch: number): void {
  if (tideline !== torch) {
    throw new Error(
      `bench peer: ${model} has ${tideline} parameters in Tideline but ${torch} in PyTorch; bench/peers/torch_zoo.py no longer builds the same model`,
    );
  }
}

/** Rows per (model, batch size) in first-seen order, from every round's samples. */
export function peerRows(samples: PeerSample[], params: Map<string, { tideline: number; torch: number }>): PeerRow[] {
  const groups = new Map<string, PeerSample[]>();
  for (const s of samples) {
    const key = `${s.model}/${s.batchSize}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((group) => {
    const { model, batchSize } = group[0]!;
    const counts = params.get(model);
    if (!counts) throw new Error(`bench peer: no parameter counts for ${model}`);
    return {
      model, batchSize, tidelineParams: counts.tideline, torchParams: counts.torch,
      tidelineSamplesPerS: spread(group.map((s) => s.tidelineSamplesPerS), 0),
      torchSamplesPerS: spread(group.map((s) => s.torchSamplesPerS), 0),
      ratio: spread(group.map((s) => s.tidelineSamplesPerS / s.torchSamplesPerS), 3),
    };
  });
}

export function minRatio(rows: PeerRow[]): number {
  return Math.min(...rows.map((r) => r.ratio.median));
}

async function torchRun(model: string, batchSize: number, seconds: number, threads: number): Promise<TorchResult> {
  const args = [SCRIPT, '--models', model, '--batch-sizes', String(batchSize), '--seconds', String(seconds), '--threads', String(threads)];
  try {
    const { stdout } = await promisify(execFile)('python3', args);
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as TorchResult;
  } catch (err) {
    const { code, stderr } = err as { code?: string | number; stderr?: string };
    if (code === 'ENOENT') throw new Error(`bench peer: python3 is not on PATH; the PyTorch side needs Python 3 with torch: ${INSTALL}`);
    if (code === NO_TORCH) throw new Error(`bench peer: PyTorch is not installed for python3: ${INSTALL}`);
    throw new Error(`bench peer: bench/peers/torch_zoo.py failed on ${model}, batch ${batchSize}: ${stderr?.trim() || String(err)}`);
  }
}

/** Measures `rounds` rounds of each model at each batch size; each measurement lasts about `seconds`. */
export async function benchPeer(opts: {
  batchSizes: number[];
  seconds: number;
  rounds: number;
  models: string[];
  /** Intra-op threads on both sides: Tideline's train-step sessions, and torch.set_num_threads; default 1. */
  threads?: number;
  onSample?: (round: number, sample: PeerSample) => void;
}): Promise<PeerReport> {
  const threads = opts.threads ?? 1;
  const models = BENCH_MODELS.filter((m) => opts.models.includes(m.name));
  const params = new Map<string, { tideline: number; torch: number }>();
  /** Per (model, batch size): the model, its batch and the trainer's step count, set up in the first round. */
  const setups = new Map<string, { def: ModelDefinition; batch: Batch; steps: number }>();
  const samples: PeerSample[] = [];
  let torchVersion = '';
  for (let round = 0; round < opts.rounds; round++) {
    for (const { name, spec, features, categorical = 0 } of models) {
      for (const batchSize of opts.batchSizes) {
        const key = `${name}/${batchSize}`;
        if (!setups.has(key)) {
          const def = createModel(spec, features, categorical);
          const batch = randomBatch(def, batchSize, features, categorical, batchSize);
          // As benchTrain: steps for about `seconds`, from a short probe of the bare session.
          const probe = await rawLoop(def, batch, 3, threads);
          setups.set(key, { def, batch, steps: Math.max(5, Math.round((opts.seconds * probe) / batchSize)) });
        }
        const { def, batch, steps } = setups.get(key)!;
        const tideline = async () => (await trainerRun(def, batch, steps, { threads })).samplesPerS;
        const torch = () => torchRun(name, batchSize, opts.seconds, threads);
        let ours: number;
        let peer: TorchResult;
        // PyTorch first in even rounds, so a missing torch fails before the first Tideline run.
        if (round % 2 === 0) {
          peer = await torch();
          ours = await tideline();
        } else {
          ours = await tideline();
          peer = await torch();
        }
        torchVersion = peer.torch;
        const tidelineParams = modelParameters(def).params.reduce((n, p) => n + paramSize(p), 0);
        checkParams(name, tidelineParams, peer.params);
        params.set(name, { tideline: tidelineParams, torch: peer.params });
        const sample = { model: name, batchSize, tidelineSamplesPerS: ours, torchSamplesPerS: peer.samplesPerS };
        samples.push(sample);
        opts.onSample?.(round, sample);
      }
    }
  }
  const rows = peerRows(samples, params);
  return { benchmark: 'peer', torch: torchVersion, threads, seconds: opts.seconds, rounds: opts.rounds, rows, min_ratio_vs_torch: minRatio(rows) };
}
