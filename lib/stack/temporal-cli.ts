import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The one CLI release that `go install` accepts (later ones carry a `replace` directive). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
const MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

/** Per-user folder where the built CLI is kept, so fresh clones and CI runs reuse one build. */
export function cliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tideline', 'bin');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `$TEMPORAL_CLI`, then `temporal` on PATH, then the cached build; undefined if none exists. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TEMPORAL_CLI) {
    if (!isExecutable(env.TEMPORAL_CLI)) throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file`);
    return env.TEMPORAL_CLI;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'temporal'))) return join(dir, 'temporal');
  }
  const cached = join(cliCacheDir(env), 'temporal');
  return isExecutable(cached) ? cached : undefined;
}

const HOW_TO_INSTALL =
  `Install the Temporal CLI and put it on PATH (or set TEMPORAL_CLI to its path), e.g. with Go 1.25+:\n` +
  `  CGO_ENABLED=0 go install ${MODULE}\n` +
  `or point TEMPORAL_ADDRESS at a running Temporal server.`;

/** Finds the CLI, building it once with `go install` into the cache folder when it is missing. */
export async function ensureTemporalCli(log: (line: string) => void = () => {}): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  const bin = cliCacheDir();
  mkdirSync(bin, { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (once; a few minutes)…`);
  const output: string[] = [];
  const code = await new Promise<number>((resolveExit) => {
    const child = spawn('go', ['install', MODULE], {
      env: { ...process.env, CGO_ENABLED: '0', GOBIN: bin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk) => output.push(String(chunk)));
    child.stderr.on('data', (chunk) => output.push(String(chunk)));
    child.on('error', (err) => {
      output.push(String(err));
      resolveExit(-1);
    });
    child.on('exit', (exitCode) => resolveExit(exitCode ?? -1));
  });
  const built = join(bin, 'temporal');
  if (code === 0 && isExecutable(built)) return built;
  throw new Error(`Could not build the Temporal CLI (go install exited ${code}):\n${output.join('').slice(-2000)}\n${HOW_TO_INSTALL}`);
}
