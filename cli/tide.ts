import { bench } from './commands/bench.js';
import { data } from './commands/data.js';
import { dataset } from './commands/dataset.js';
import { demo } from './commands/demo.js';
import { evaluate } from './commands/evaluate.js';
import { experiment } from './commands/experiment.js';
import { gc } from './commands/gc.js';
import { ingest } from './commands/ingest.js';
import { run, status, stop } from './commands/pipeline.js';
import { compare, report } from './commands/report.js';
import { worker } from './commands/worker.js';

const USAGE = `tide — continual-training pipelines on Temporal

Usage:
  tide demo                              the drifting-digits demo on the embedded stack
  tide up                                start Temporal, PostgreSQL and all workers; stay in the foreground
  tide worker [--role control|gpu|all]   run workers against TEMPORAL_ADDRESS / DATABASE_URL
  tide dataset add <config.yaml>         register a dataset
  tide dataset list [--json]             list datasets with their files, samples and quarantined files
  tide dataset show <name> [--json]      a dataset's settings and quarantined files
  tide dataset update <config.yaml>      change what can safely change (ingest settings; columns before any sample)
  tide dataset remove <name> [--force]   remove a dataset and its samples (--force: and its pipelines' rows)
  tide data list [--json]                the benchmark streams: size, drift points, seed
  tide data <stream> [--name DATASET] [--periods N] [--samples-per-period N] [--seed N]
                                         write a stream's files, register them as a dataset and ingest them
  tide ingest <dataset> [files…]         ingest files (default: every new file) and signal pipelines
  tide ingest <dataset> --watch          keep ingesting new files as they appear
  tide run <spec.yaml> [--id NAME] [--wait]   start a pipeline
  tide status <pipeline> [--json]        live status or failure, triggers (and why they fired), policy evaluations, evaluation matrix
  tide stop <pipeline>                   finish the current trigger, then complete
  tide report <pipeline> [--out DIR] [--json]   an HTML report with charts (and PNGs) in TIDELINE_HOME/reports
  tide compare <pipeline>… [--out DIR] [--json] several pipelines side by side in one HTML report
  tide evaluate <pipeline> [--strategy S] [--models M] [--dataset D] [--json]
                                         evaluate its models in sample time (S: betweenTriggers, "{kind: slicing, every: 1d}", …)
  tide experiment <file> [--resume] [--json]   run variants of a spec (× seeds) up to one end; a table and a comparison
  tide gc [--keep N] [--dry-run]         delete model files beyond each pipeline's last N (default 5) models
  tide bench train [--json] [--steps-per-run K]   training throughput of the zoo: raw session vs trainer
  tide bench dataplane [--json]          ingestion and the training data path vs raw baselines
  tide bench triggers [--json]           a drift check and embedding extraction vs raw baselines
  tide bench evaluation [--json]         scoring held-out samples vs a bare session loop; a 50-trigger evaluation matrix
  tide bench selection [--json]          presampling vs a plain INSERT … SELECT; downsampling vs its bounds and no selection
  tide bench peer [--json]               the zoo trained by Tideline and by PyTorch (needs pip3 install torch)

Settings come from the environment: TIDELINE_HOME (state folder, default .tideline), TEMPORAL_ADDRESS,
TEMPORAL_NAMESPACE, DATABASE_URL, TIDELINE_STORE, TIDELINE_CPU_QUEUE, TIDELINE_GPU_QUEUE, TEMPORAL_CLI.
`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  demo: () => demo(),
  up: (args) => worker(['--role', 'all', ...args], true),
  worker: (args) => worker(args),
  dataset,
  data,
  ingest,
  run,
  status,
  stop,
  report,
  compare,
  evaluate,
  experiment,
  gc,
  bench,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const help = !name || name === 'help' || name === '--help' || name === '-h';
  const command = help ? undefined : commands[name];
  if (!command) {
    process.stderr.write(help ? USAGE : `tide: unknown command "${name}"\n\n${USAGE}`);
    return help ? 0 : 2;
  }
  try {
    await command(args);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    process.stderr.write(`\ntide ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));
