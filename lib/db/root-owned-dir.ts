import { chmod, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Creates `dir` (and missing parents) as root, mode 755, and checks it is a folder only root can change.
 * Used for the shared folders root hands to the postgres user (binaries, relocated data dirs): one
 * that someone else planted first, in /tmp say, must not be trusted.
 */
export async function ensureRootOwnedDir(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  // mkdir honours the umask; the postgres user must be able to traverse every level created here.
  if (firstCreated) {
    for (let d = dir; ; d = path.dirname(d)) {
      await chmod(d, 0o755);
      if (d === firstCreated) break;
    }
  }
  await assertRootOwnedDir(dir);
}

/** Throws unless `dir` is a real folder (not a symlink) owned by root that neither group nor others may write to. */
export async function assertRootOwnedDir(dir: string): Promise<void> {
  const stats = await lstat(dir);
  const problem = !stats.isDirectory()
    ? 'is not a folder'
    : stats.uid !== 0
      ? `is owned by uid ${stats.uid}, not root`
      : (stats.mode & 0o022) !== 0
        ? `is writable by group or others (mode ${(stats.mode & 0o777).toString(8)})`
        : undefined;
  if (problem) {
    throw new Error(`${dir} ${problem}, so it is not safe for PostgreSQL's files; remove it and start again`);
  }
}
