import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `stack.json` in a state folder: what the `tide` process that owns the folder's stack started, so the
 * folder's other `tide` commands attach to it instead of starting a second dev server or PostgreSQL.
 */
export interface StackFile {
  /** The owner: it stops the services below when it ends. */
  pid: number;
  temporalAddress?: string;
  temporalPid?: number;
  uiUrl?: string;
  databaseUrl?: string;
}

export function stackFilePath(home: string): string {
  return join(home, 'stack.json');
}

export function readStackFile(home: string): StackFile | undefined {
  const path = stackFilePath(home);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as StackFile;
  } catch (err) {
    throw new Error(`${path} is not a stack record (${err instanceof Error ? err.message : String(err)}); remove it if no tide process runs for ${home}`);
  }
}

/** Readable by its owner only: the database URL in it carries PostgreSQL's password. */
export function writeStackFile(home: string, stack: StackFile): void {
  const path = stackFilePath(home);
  writeFileSync(path, JSON.stringify(stack, null, 2), { mode: 0o600 });
  // The mode above applies only to a new file; one a crashed owner left keeps its own.
  chmodSync(path, 0o600);
}

export function removeStackFile(home: string): void {
  rmSync(stackFilePath(home), { force: true });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
