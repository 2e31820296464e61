import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchDataplane } from '../../bench/dataplane.js';
import { benchEvaluation } from '../../bench/evaluation.js';
import { benchDownsampling } from '../../bench/downsampling.js';
import { benchNoise, maxDeviation } from '../../bench/noise.js';
import { benchPeer } from '../../bench/peer.js';
import { benchSelection } from '../../bench/selection.js';
import { BENCH_MODELS, benchTrain, TURNS } from '../../bench/train.js';
import { benchTriggers } from '../../bench/triggers.js';

const USAGE = [
  'usage: tide bench train [--json] [--seconds S] [--rounds R] [--steps-per-run K] [--threads N] [--models a,b]',
  '       tide bench peer [--json] [--seconds S] [--rounds R] [--threads N] [--models a,b]',
  '       tide bench noise [--json] [--seconds S] [--rounds R] [--models a,b]',
  '       tide bench dataplane [--json] [--rows N] [--files F] [--parallel N] [--repeats R] [--batch-size B] [--steps S] [--rounds R] [--fraction F]',
  '                            [--partition-sizes a,b] [--prefetch a,b] [--requests a,b] [--loader size,prefetch,requests]',
  '                            [--images N] [--cnn-batch-size B] [--cnn-steps S] [--cnn-loader size,prefetch,requests]',
  '       tide bench triggers [--json] [--samples N] [--width W] [--features F] [--embed-samples N] [--batch-size B] [--rounds R]',
  '       tide bench evaluation [--json] [--samples N] [--batch-size B] [--rounds R] [--triggers T] [--held-out N]',
  '       tide bench selection [--json] [--rows N] [--ratio R] [--rounds R] [--samples N] [--steps S] [--batch-size B] [--downsampling-ratio R]',
].join('\n');

const machine = () => ({ cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version });

/** The options the turn-taking benchmarks (train, peer, noise) share, as parseArgs declares them. */
const TURN_OPTIONS = {
  json: { type: 'boolean', default: false },
  seconds: { type: 'string', default: String(TURNS.seconds) },
  rounds: { type: 'string', default: String(TURNS.rounds) },
  models: { type: 'string', default: BENCH_MODELS.map((m) => m.name).join(',') },
} as const;

/**
 * `tide bench train`: training throughput of the zoo, raw session vs trainer. `tide bench peer`: the trainer vs
 * PyTorch on the same models. `tide bench noise`: what those two read when both sides are the same raw loop.
 * `tide bench dataplane`: ingestion and loading vs raw baselines. `tide bench triggers`: the cost of a model-aware
 * trigger check. `tide bench evaluation`: scoring held-out samples vs a bare session loop, and a pipeline's whole
 * evaluation matrix. `tide bench selection`: presampling vs a plain INSERT … SELECT of the window, and model-based
 * downsampling vs its bounds and no selection.
 */
export async function bench(args: string[]): Promise<void> {
  if (args[0] === 'dataplane') return dataplane(args.slice(1));
  if (args[0] === 'peer') return peer(args.slice(1));
  if (args[0] === 'noise') return noise(args.slice(1));
  if (args[0] === 'triggers') return triggers(args.slice(1));
  if (args[0] === 'evaluation') return evaluation(args.slice(1));
  if (args[0] === 'selection') return selection(args.slice(1));
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      ...TURN_OPTIONS,
      'steps-per-run': { type: 'string' },
      threads: { type: 'string', default: '1' },
    },
  });
  if (positionals[0] !== 'train') throw new Error(USAGE);
  const { seconds, rounds, models } = turns(values);
  const stepsPerRun = values['steps-per-run'] === undefined ? undefined : positiveInt('--steps-per-run', values['steps-per-run']);
  const threads = positiveInt('--threads', values.threads);
  const rows = await benchTrain({
    batchSizes: [64, 256],
    seconds,
    rounds,
    stepsPerRun,
    threads,
    models,
    onRow: values.json ? undefined : (r) => console.log(
      `${r.model.padEnd(20)} B=${String(r.batchSize).padEnd(4)} K=${String(r.stepsPerRun).padEnd(3)} `
      + `raw ${String(r.rawSamplesPerS.median).padStart(8)}/s  trainer ${String(r.trainerSamplesPerS.median).padStart(8)}/s  `
      + `ratio ${r.ratio.median.toFixed(3)} (${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)})  peak RSS ${r.peakRssMb} MB`,
    ),
  });
  const minRatio = Math.min(...rows.map((r) => r.ratio.median));
  if (values.json) console.log(JSON.stringify({ benchmark: 'train', machine: machine(), stepsPerRun: stepsPerRun ?? 'auto', threads, rounds, min_trainer_ratio: minRatio, rows }, null, 2));
  else console.log(`min_trainer_ratio ${minRatio} (medians over ${rounds} rounds of ${seconds} s a side)`);
}

/** The options of the turn-taking benchmarks, checked. */
function turns(values: { seconds: string; rounds: string; models: string }): { seconds: number; rounds: number; models: string[] } {
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds: "${values.seconds}" is not a positive number`);
  const rounds = positiveInt('--rounds', values.rounds);
  const models = values.models.split(',').map((m) => m.trim());
  const unknown = models.filter((m) => !BENCH_MODELS.some((b) => b.name === m));
  if (unknown.length > 0) throw new Error(`--models: unknown ${unknown.join(', ')} (known: ${BENCH_MODELS.map((m) => m.name).join(', ')})`);
  return { seconds, rounds, models };
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: "${value}" is not a positive integer`);
  return n;
}

async function peer(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false,
    options: {
      ...TURN_OPTIONS,
      threads: { type: 'string', default: '1' },
    },
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const { seconds, rounds, models } = turns(values);
  const threads = positiveInt('--threads', values.threads);
  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const report = await benchPeer({
    batchSizes: [64, 256], seconds, rounds, models, threads,
    onSample: values.json ? undefined : (round, s) => console.log(
      `round ${round + 1}/${rounds}  ${s.model.padEnd(20)} B=${String(s.batchSize).padEnd(4)} tideline ${n(s.tidelineSamplesPerS).padStart(8)}/s  `
      + `torch ${n(s.torchSamplesPerS).padStart(8)}/s  ratio ${(s.tidelineSamplesPerS / s.torchSamplesPerS).toFixed(3)}`,
    ),
  });
  if (values.json) {
    console.log(JSON.stringify({ ...report, machine: machine() }, null, 2));
    return;
  }
  console.log(`\ntorch ${report.torch}, ${report.threads} intra-op thread(s), ${rounds} rounds of ${seconds} s a side: medians (min–max over rounds)`);
  console.log('| model | batch | Tideline samples/s | PyTorch samples/s | ratio | parameters (Tideline / PyTorch) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of report.rows) {
    console.log(
      `| ${r.model} | ${r.batchSize} | ${n(r.tidelineSamplesPerS.median)} | ${n(r.torchSamplesPerS.median)} | `
      + `${r.ratio.median.toFixed(2)} (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)}) | ${n(r.tidelineParams)} / ${n(r.torchParams)} |`,
    );
  }
  console.log(`min_ratio_vs_torch ${report.min_ratio_vs_torch}`);
}

async function noise(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false, options: TURN_OPTIONS,
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const { seconds, rounds, models } = turns(values);
  const rows = await benchNoise({
    batchSizes: [64, 256], seconds, rounds, models,
    onRow: values.json ? undefined : (r) => console.log(
      `${r.model.padEnd(20)} B=${String(r.batchSize).padEnd(4)} raw ${String(r.firstSamplesPerS.median).padStart(8)}/s  `
      + `raw again ${String(r.secondSamplesPerS.median).padStart(8)}/s  ratio ${r.ratio.median.toFixed(3)} (${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)})`,
    ),
  });
  const deviation = maxDeviation(rows);
  if (values.json) console.log(JSON.stringify({ benchmark: 'noise', machine: machine(), seconds, rounds, max_deviation: deviation, rows }, null, 2));
  else console.log(`max_deviation ${deviation} (median ratios of two identical raw loops, ${rounds} rounds of ${seconds} s a side)`);
}

async function dataplane(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      rows: { type: 'string', default: '400000' },
      files: { type: 'string', default: '20' },
      parallel: { type: 'string', default: '4' },
      repeats: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '1024' },
      steps: { type: 'string', default: '48' },
      rounds: { type: 'string', default: '3' },
      fraction: { type: 'string', default: '0.5' },
      'partition-sizes': { type: 'string', default: '4096,16384' },
      prefetch: { type: 'string', default: '0,2' },
      requests: { type: 'string', default: '1,4' },
      loader: { type: 'string', default: '16384,1,1' },
      images: { type: 'string', default: '4096' },
      'cnn-batch-size': { type: 'string', default: '64' },
      'cnn-steps': { type: 'string', default: '80' },
      'cnn-loader': { type: 'string', default: '1024,1,8' },
    },
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const int = (flag: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: "${text}" is not an integer >= ${min}`);
    return n;
  };
  const ints = (flag: keyof typeof values, min: number) => String(values[flag]).split(',').map((t) => int(flag, t.trim(), min));
  const fraction = Number(values.fraction);
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`--fraction: "${values.fraction}" is not in (0, 1]`);
  const loaderSetting = (flag: 'loader' | 'cnn-loader') => {
    const n = ints(flag, 0);
    if (n.length !== 3 || n[0]! < 1 || n[2]! < 1) throw new Error(`--${flag}: "${values[flag]}" is not partitionSize,prefetchPartitions,parallelRequests`);
    return { partitionSize: n[0]!, prefetchPartitions: n[1]!, parallelRequests: n[2]! };
  };
  const report = await benchDataplane({
    rows: int('rows', values.rows, 1),
    files: int('files', values.files, 1),
    parallel: int('parallel', values.parallel, 1),
    repeats: int('repeats', values.repeats, 1),
    batchSize: int('batch-size', values['batch-size'], 1),
    steps: int('steps', values.steps, 1),
    rounds: int('rounds', values.rounds, 1),
    fraction,
    partitionSizes: ints('partition-sizes', 1),
    prefetchPartitions: ints('prefetch', 0),
    parallelRequests: ints('requests', 1),
    loader: loaderSetting('loader'),
    images: int('images', values.images, 0),
    cnnBatchSize: int('cnn-batch-size', values['cnn-batch-size'], 1),
    cnnSteps: int('cnn-steps', values['cnn-steps'], 1),
    cnnLoader: loaderSetting('cnn-loader'),
    log: values.json ? undefined : (line) => console.log(line),
  });
  console.log(JSON.stringify({ ...report, machine: machine() }, null, values.json ? 2 : undefined));
}

async function triggers(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      samples: { type: 'string', default: '5000' },
      width: { type: 'string', default: '64' },
      features: { type: 'string', default: '784' },
      'embed-samples': { type: 'string', default: '100000' },
      'batch-size': { type: 'string' },
      rounds: { type: 'string', default: '9' },
    },
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const int = (flag: keyof typeof values, min: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: "${values[flag]}" is not an integer >= ${min}`);
    return n;
  };
  const report = await benchTriggers({
    samples: int('samples', 2),
    width: int('width', 1),
    features: int('features', 1),
    embedSamples: int('embed-samples', 1),
    batchSize: values['batch-size'] === undefined ? undefined : int('batch-size', 1),
    rounds: int('rounds', 1),
    log: values.json ? undefined : (line) => console.log(line),
  });
  console.log(JSON.stringify({ ...report, machine: machine() }, null, values.json ? 2 : undefined));
}

async function evaluation(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      samples: { type: 'string', default: '150000' },
      'batch-size': { type: 'string' },
      rounds: { type: 'string', default: '7' },
      triggers: { type: 'string', default: '50' },
      'held-out': { type: 'string', default: '200' },
    },
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const int = (flag: keyof typeof values, min: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: "${values[flag]}" is not an integer >= ${min}`);
    return n;
  };
  const report = await benchEvaluation({
    samples: int('samples', 1),
    batchSize: values['batch-size'] === undefined ? undefined : int('batch-size', 1),
    rounds: int('rounds', 1),
    triggers: int('triggers', 1),
    heldOut: int('held-out', 1),
    log: values.json ? undefined : (line) => console.log(line),
  });
  console.log(JSON.stringify({ ...report, machine: machine() }, null, values.json ? 2 : undefined));
}

async function selection(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: false,
    options: {
      json: { type: 'boolean', default: false },
      rows: { type: 'string', default: '2000000' },
      ratio: { type: 'string', default: '0.5' },
      rounds: { type: 'string', default: '3' },
      samples: { type: 'string', default: '20000' },
      steps: { type: 'string', default: '60' },
      'batch-size': { type: 'string', default: '64' },
      'downsampling-ratio': { type: 'string', default: '0.25' },
    },
  });
  if (positionals.length > 0) throw new Error(USAGE);
  const int = (flag: 'rows' | 'rounds' | 'samples' | 'steps' | 'batch-size', min: number): number => {
    const n = Number(values[flag]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: "${values[flag]}" is not an integer >= ${min}`);
    return n;
  };
  const fraction = (flag: 'ratio' | 'downsampling-ratio'): number => {
    const r = Number(values[flag]);
    if (!(r > 0 && r <= 1)) throw new Error(`--${flag}: "${values[flag]}" is not in (0, 1]`);
    return r;
  };
  const log = values.json ? undefined : (line: string) => console.log(line);
  const rounds = int('rounds', 1);
  const presampling = await benchSelection({ rows: int('rows', 1), ratio: fraction('ratio'), rounds, log });
  const downsampling = await benchDownsampling({
    samples: int('samples', 1), steps: int('steps', 1), batchSize: int('batch-size', 1), ratio: fraction('downsampling-ratio'), rounds, log,
  });
  console.log(JSON.stringify({ ...presampling, ...downsampling, machine: machine() }, null, values.json ? 2 : undefined));
}
