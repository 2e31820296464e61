import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchTrain } from '../../bench/train.js';

/** `tide bench train [--json] [--seconds S]`: training throughput of the zoo, raw session vs trainer. */
export async function bench(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, seconds: { type: 'string', default: '3' } },
  });
  if (positionals[0] !== 'train') throw new Error('usage: tide bench train [--json] [--seconds S]');
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds: "${values.seconds}" is not a positive number`);
  const rows = await benchTrain({
    batchSizes: [64, 256],
    seconds,
    onRow: values.json ? undefined : (r) =>
      console.log(`${r.model.padEnd(20)} B=${String(r.batchSize).padEnd(4)} raw ${String(r.rawSamplesPerS).padStart(7)}/s  trainer ${String(r.trainerSamplesPerS).padStart(7)}/s  ratio ${r.ratio.toFixed(3)}  peak RSS ${r.peakRssMb} MB`),
  });
  if (values.json) {
    const machine = { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version };
    console.log(JSON.stringify({ benchmark: 'train', machine, rows }, null, 2));
  }
}
