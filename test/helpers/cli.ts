import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Running the `tide` command as a user would: a child process in the repository, its output collected. */

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The environment of a user with only a state folder set: no external server, no queue names. */
export function embeddedEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TIDELINE_HOME: home };
  for (const name of ['TEMPORAL_ADDRESS', 'DATABASE_URL', 'TIDELINE_STORE', 'TIDELINE_CPU_QUEUE', 'TIDELINE_GPU_QUEUE']) delete env[name];
  return env;
}

/** `node bin/tide.js …` with its output collected. */
export function tide(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [join(REPO, 'bin/tide.js'), ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.once('exit', (code, signal) => resolveExit({ code, signal })),
  );
  return { child, exited, output: () => output, stdout: () => stdout };
}

export async function within<T>(what: string, promise: Promise<T>, ms: number, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000}s; output:\n${output()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function outputContains(child: ChildProcess, output: () => string, text: string): Promise<void> {
  while (!output().includes(text)) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before printing "${text}":\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A dataset config named `name` like the demo's (28×28 digit records) over an empty folder in `dir`; returns its path. */
export async function emptyDatasetConfig(dir: string, name: string): Promise<string> {
  const root = join(dir, `${name}-files`);
  await mkdir(root, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({
    name, root,
    format: {
      kind: 'binary', recordSize: 3148, byteOrder: 'little', label: { offset: 0, type: 'int32' },
      timestamp: { offset: 4, type: 'int64' }, features: { offset: 12, count: 784 }, numClasses: 10,
    },
  }));
  return file;
}
