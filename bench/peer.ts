/**
 * Tideline's trainer against PyTorch on the same zoo models (bench/peers/torch_zoo.py builds them as lib/onnx/models
 * does), taking turns: for each (model, batch size), a PyTorch process trains segments on demand, each right after a
 * segment of Tideline's trainer (bench/train.ts pairedRounds), so each round's pair sees the same machine. Both use
 * the intra-op thread count of Tideline's sessions. A model whose parameter counts differ is a different model, and
 * fails the benchmark.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { modelParameters } from '../lib/onnx/models/build.js';
import { paramSize } from '../lib/onnx/params.js';
import { spread, type Spread } from './rounds.js';
import { BENCH_MODELS, benchModel, pairedRounds, segmentSteps, type BaselineSegments } from './train.js';

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

/**
 * A PyTorch process serving segments of `model` at `batchSize` (torch_zoo.py --serve), once it is ready: its model
 * built and three warm-up steps taken. Each segment's time is the process's own, without the pipe's latency.
 */
async function torchSegments(model: string, batchSize: number, threads: number): Promise<BaselineSegments & { params: number; torch: string }> {
  const child = spawn('python3', [SCRIPT, '--serve', '--models', model, '--batch-sizes', String(batchSize), '--threads', String(threads)]);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = once(child, 'close') as Promise<[number | null]>;
  const spawnFailed = once(child, 'error').then(([e]) => {
    throw (e as NodeJS.ErrnoException).code === 'ENOENT'
      ? new Error(`bench peer: python3 is not on PATH; the PyTorch side needs Python 3 with torch: ${INSTALL}`) : e;
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const reply = async (): Promise<Record<string, unknown>> => {
    const line = await Promise.race([lines.next(), spawnFailed]);
    if (!line.done) return JSON.parse(line.value) as Record<string, unknown>;
    const [code] = await exited;
    if (code === NO_TORCH) throw new Error(`bench peer: PyTorch is not installed for python3: ${INSTALL}`);
    throw new Error(`bench peer: bench/peers/torch_zoo.py failed on ${model}, batch ${batchSize}: ${stderr.trim() || `exit code ${code}`}`);
  };
  const ready = await reply();
  return {
    params: ready.params as number,
    torch: ready.torch as string,
    async run(steps) {
      child.stdin.write(`${steps}\n`);
      return ((await reply()).seconds as number) * 1000;
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}

/** Times `rounds` paired rounds of each model at each batch size; each segment lasts about `seconds`. */
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
  const params = new Map<string, { tideline: number; torch: number }>();
  const samples: PeerSample[] = [];
  let torchVersion = '';
  for (const { name } of BENCH_MODELS.filter((m) => opts.models.includes(m.name))) {
    for (const batchSize of opts.batchSizes) {
      const { def, batch } = benchModel(name, batchSize);
      const steps = await segmentSteps(def, batch, opts.seconds, threads);
      // Ready before the trainer starts: loading torch would otherwise land on the trainer's first segments.
      const torch = await torchSegments(name, batchSize, threads);
      try {
        torchVersion = torch.torch;
        const tidelineParams = modelParameters(def).params.reduce((n, p) => n + paramSize(p), 0);
        checkParams(name, tidelineParams, torch.params);
        params.set(name, { tideline: tidelineParams, torch: torch.params });
        const { baseline, trainer } = await pairedRounds(def, batch, steps, opts.rounds, { threads, baseline: async () => torch });
        trainer.forEach((ours, round) => {
          const sample = { model: name, batchSize, tidelineSamplesPerS: ours, torchSamplesPerS: baseline[round]! };
          samples.push(sample);
          opts.onSample?.(round, sample);
        });
      } finally {
        await torch.close();
      }
    }
  }
  const rows = peerRows(samples, params);
  return { benchmark: 'peer', torch: torchVersion, threads, seconds: opts.seconds, rounds: opts.rounds, rows, min_ratio_vs_torch: minRatio(rows) };
}
