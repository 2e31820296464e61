#!/usr/bin/env -S npx tsx
import { demo } from './commands/demo.js';

const USAGE = `tide — continual-training pipelines on Temporal

Usage:
  tide demo                          run the drifting-digits demo on the embedded stack
`;

const commands: Record<string, (args: string[]) => Promise<void>> = {
  demo: () => demo(),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) {
    process.stderr.write(name && name !== 'help' && name !== '--help' ? `tide: unknown command "${name}"\n\n${USAGE}` : USAGE);
    return name && name !== 'help' && name !== '--help' ? 2 : 0;
  }
  try {
    await command(args);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    process.stderr.write(`\ntide ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

process.exit(await main(process.argv.slice(2)));
