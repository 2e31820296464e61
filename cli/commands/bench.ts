import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchTrain } from '../../bench/train.js';

const USAGE = 'usage: tide bench train [--json] [--seconds S] [--steps-per-run K] [--models a,b]';

/** `tide bench train`: training throughput of the zoo, raw session vs trainer. */
export async function bench(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '3' },
      'steps-per-run': { type: 'string', default: '1' },
      models: { type: 'string' },
    },
  });
  if (positionals[0] !== 'train') throw new Error(USAGE);
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds: "${values.seconds}" is not a positive number`);
  const stepsPerRun = Number(values['steps-per-run']);
  if (!Number.isInteger(stepsPerRun) || stepsPerRun < 1) throw new Error(`--steps-per-run: "${values['steps-per-run']}" is not a positive integer`);
  const rows = await benchTrain({
    batchSizes: [64, 256],
    seconds,
    stepsPerRun,
    models: values.models?.split(','),
    onRow: values.json ? undefined : (r) =>
      console.log(`${r.model.padEnd(20)} B=${String(r.batchSize).padEnd(4)} raw ${String(r.rawSamplesPerS).padStart(7)}/s  trainer ${String(r.trainerSamplesPerS).padStart(7)}/s  ratio ${r.ratio.toFixed(3)}  peak RSS ${r.peakRssMb} MB`),
  });
  if (values.json) {
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version };
    console.log(JSON.stringify({ benchmark: 'train', machine, stepsPerRun, rows }, null, 2));
  }
}
