import { parseArgs } from 'node:util';
import { parseDatasetConfig } from '../../lib/data/dataset-config.js';
import { findStream, STREAMS } from '../../lib/streams/index.js';
import {
  datasetSampleCount, ingestStreamFiles, registerStreamDataset, STREAM_HOLDOUT, streamDatasetConfig, streamRoot, writeStreamFiles,
} from '../../lib/streams/prepare.js';
import { START_TS, streamSize, type DriftPoint } from '../../lib/streams/stream.js';
import { openContext } from '../context.js';
import { notifyPipelines } from '../notify.js';
import { step } from '../progress.js';

const USAGE =
  'usage: tide data list [--json] | tide data <stream> [--name DATASET] [--periods N] [--samples-per-period N] [--seed N]\n' +
  `streams: ${STREAMS.map((s) => s.name).join(', ')}`;

/**
 * `tide data list` shows the benchmark streams (lib/streams) with their default size and drift points.
 * `tide data <stream>` writes a run of one into TIDELINE_HOME/data/<stream>/<options>, registers it as a dataset
 * (named after the stream unless --name says otherwise) and ingests its files in sample-time order. Running it
 * again with the same options writes, registers and ingests nothing new.
 */
export async function data(args: string[]): Promise<void> {
  const { values, positionals } = parseFlags(args);
  const [verb, ...extra] = positionals;
  if (!verb || extra.length > 0) throw new Error(USAGE);
  if (verb === 'list') {
    const given = (['name', 'periods', 'samples-per-period', 'seed'] as const).filter((flag) => values[flag] !== undefined);
    if (given.length > 0) throw new Error(`--${given[0]} is for preparing a stream, not for list\n${USAGE}`);
    return listStreams(values.json);
  }
  if (values.json) throw new Error(`--json is for list\n${USAGE}`);
  const stream = findStream(verb);
  const options = stream.options({
    periods: integerFlag('periods', values.periods, 1),
    samplesPerPeriod: integerFlag('samples-per-period', values['samples-per-period'], 1),
    seed: integerFlag('seed', values.seed, 0),
  });
  const name = values.name ?? stream.name;
  // Validated before the stack is opened, so a bad --name fails fast.
  try {
    parseDatasetConfig(streamDatasetConfig(stream, '.', name));
  } catch (err) {
    throw new Error(`--name "${name}": ${(err as Error).message}`);
  }

  const ctx = await openContext();
  try {
    const root = streamRoot(ctx.config.home, stream, options);
    const { samples, bytes } = streamSize(stream, options);
    const files = await step(`Writing ${stream.name}: ${options.periods} periods, ${samples} samples (${megabytes(bytes)}), seed ${options.seed}, to ${root}`, () =>
      writeStreamFiles(stream, options, root),
    );
    const dataset = await step(`Registering dataset "${name}"`, () => registerStreamDataset(ctx.pool, streamDatasetConfig(stream, root, name)));
    const ingested = await step(`Ingesting ${files.length} files in sample-time order`, (bar) =>
      ingestStreamFiles(ctx.pool, dataset, files, (done) => bar.update(done)), files.length);
    const notified = await notifyPipelines(ctx.client, dataset, ingested.batches);
    const added = ingested.batches.reduce((n, b) => n + b.count, 0);
    console.log(
      `Dataset "${name}": ${await datasetSampleCount(ctx.pool, dataset.id)} samples (${added} new, ${ingested.alreadyIngested} of ${files.length} files ingested before` +
        `${notified > 0 ? `; signalled ${notified} pipeline(s)` : ''})`,
    );
    console.log(`Drift points: ${describeDriftPoints(stream.driftPoints(options))}`);
  } finally {
    await ctx.close();
  }
}

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args, allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        name: { type: 'string' },
        periods: { type: 'string' },
        'samples-per-period': { type: 'string' },
        seed: { type: 'string' },
      },
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${USAGE}`);
  }
}

/** A whole-number flag of at least `min`, or undefined when not given. */
function integerFlag(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > 0xffffffff) {
    throw new Error(`--${flag}: "${value}" is not an integer in ${min}..${0xffffffff}`);
  }
  return n;
}

function listStreams(json: boolean): void {
  const rows = STREAMS.map((stream) => {
    const options = stream.options({});
    return { stream, options, size: streamSize(stream, options), driftPoints: stream.driftPoints(options) };
  });
  if (json) {
    const listed = rows.map(({ stream, options, size, driftPoints }) => ({
      name: stream.name, description: stream.description, ...options, ...size,
      driftPoints: driftPoints.map((d) => ({ ...d, date: day(d.ts) })), format: stream.format, holdout: STREAM_HOLDOUT,
    }));
    process.stdout.write(`${JSON.stringify(listed, null, 2)}\n`);
    return;
  }
  const blocks = rows.map(({ stream, options, size, driftPoints }) =>
    `${stream.name}\t${stream.description}\n` +
    `  default: ${options.periods} periods × ${options.samplesPerPeriod} samples = ${size.samples} samples, ${megabytes(size.bytes)}, seed ${options.seed}\n` +
    `  drift points: ${describeDriftPoints(driftPoints)}`);
  process.stdout.write(`${blocks.join('\n')}\nPrepare one with \`tide data <stream>\`; one period is one day of sample time from ${day(START_TS)}.\n`);
}

function describeDriftPoints(points: DriftPoint[]): string {
  return points.map((d) => `period ${d.period} (${day(d.ts)}): ${d.change}`).join('; ');
}

function day(ts: number): string {
  return new Date(ts * 1000).toISOString().slice(0, 10);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
