import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, readdir, readlink, realpath, rmdir, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canWriteDir, type PostgresUser, untraversableFolder } from './postgres-user.js';
import { ensureRootOwnedDir } from './root-owned-dir.js';

export interface DataDirPlacement {
  /** The real path PostgreSQL is given: no symlinks. */
  dataDir: string;
  /**
   * One line naming the requested folder, where the data actually is and why, when this call relocated it;
   * absent otherwise (later starts reach the data through the symlink left at the requested folder).
   */
  notice?: string;
}

/** Where relocated data dirs go, in order of preference: a system folder survives reboots, the temp dir is the fallback. */
function relocationBases(): string[] {
  return ['/var/lib/tideline/postgres', path.join(os.tmpdir(), 'tideline-postgres-data')];
}

/**
 * Prepares PostgreSQL's data dir for `requested`: created if missing, mode 700, owned by `user` (the
 * postgres user when running as root; absent: this process's user, data in place). When `user`
 * cannot reach `requested` (a parent it cannot traverse, such as /root or a mkdtemp folder), the data
 * goes to a folder of its own under one of relocationBases() and `requested` becomes a symlink to it, so the
 * state folder still shows where the data is and the next start finds the same data.
 */
export async function placeDataDir(requested: string, user?: PostgresUser): Promise<DataDirPlacement> {
  if (await isSymlink(requested)) return { dataDir: await linkedDataDir(requested, user) };
  if (!user) return { dataDir: await ownDataDir(requested) };
  // The umask's mode, not 700: whoever runs PostgreSQL must be able to traverse the folders above its data.
  await createFolder(path.dirname(requested), `${path.dirname(requested)}, the folder of PostgreSQL's data folder ${requested}`);
  const blocked = untraversableFolder(user, path.dirname(requested));
  if (!blocked) return { dataDir: await ownDataDir(requested, user) };

  if (!(await isEmptyOrMissing(requested))) {
    throw new Error(
      `PostgreSQL's data folder ${requested} exists and is not an empty folder, but the postgres user PostgreSQL runs as cannot `
        + `traverse ${blocked}: make ${blocked} traversable by it (chmod o+x) or move the data out and set TIDELINE_HOME to a folder it can reach`,
    );
  }
  const dataDir = await relocatedDataDir(requested, user, blocked);
  await rmdir(requested).catch(() => undefined);
  try {
    await symlink(dataDir, requested);
  } catch (e) {
    throw new Error(`could not link PostgreSQL's data folder ${requested} to ${dataDir}: ${(e as Error).message}`);
  }
  return {
    dataDir,
    notice: `PostgreSQL data for ${requested} is in ${dataDir} (${requested} links to it): the postgres user PostgreSQL runs as cannot traverse ${blocked}`,
  };
}

/** The folder `link` points to, prepared like any data dir; a link to nothing is reported, not replaced: its data may be on a disk not mounted. */
async function linkedDataDir(link: string, user?: PostgresUser): Promise<string> {
  let target: string;
  try {
    target = await realpath(link);
  } catch {
    throw new Error(
      `PostgreSQL's data folder ${link} is a symlink to ${await readlink(link)}, which is not there; `
        + 'bring that folder back, or remove the symlink to start a fresh database',
    );
  }
  return ownDataDir(target, user);
}

/** A folder of its own for `requested`'s data in the first relocation base the postgres user can reach. */
async function relocatedDataDir(requested: string, user: PostgresUser, blocked: string): Promise<string> {
  const name = `${path.basename(requested)}-${createHash('sha256').update(requested).digest('hex').slice(0, 12)}`;
  const failures: string[] = [];
  for (const base of relocationBases()) {
    try {
      await ensureRootOwnedDir(base);
      const unreachable = untraversableFolder(user, base);
      if (unreachable) {
        failures.push(`${base}: the postgres user cannot traverse ${unreachable}`);
        continue;
      }
      return await ownDataDir(path.join(base, name), user);
    } catch (e) {
      failures.push(`${base}: ${(e as Error).message}`);
    }
  }
  throw new Error(
    `PostgreSQL's data folder ${requested} is out of reach of the postgres user PostgreSQL runs as (it cannot traverse ${blocked}), `
      + `and no other folder could take the data (${failures.join('; ')}). `
      + `Make ${blocked} traversable by the postgres user (chmod o+x) or set TIDELINE_HOME to a folder it can reach`,
  );
}

/** Creates `dir` if missing, mode 700 and owned by `user`, and checks `user` can work in it; returns its real path. */
async function ownDataDir(dir: string, user?: PostgresUser): Promise<string> {
  await createFolder(dir, `PostgreSQL's data folder ${dir}`, 0o700);
  if (user) await chown(dir, user.uid, user.gid);
  // PostgreSQL refuses a data dir others can read.
  await chmod(dir, 0o700);
  if (user && !canWriteDir(user, dir)) {
    const blocked = untraversableFolder(user, dir);
    throw new Error(
      blocked
        ? `the postgres user PostgreSQL runs as cannot reach its data folder ${dir}: make ${blocked} traversable by it (chmod o+x) or set TIDELINE_HOME to a folder it can reach`
        : `the postgres user PostgreSQL runs as cannot write to its data folder ${dir}, though it owns it`,
    );
  }
  return realpath(dir);
}

/** `what` names the folder in the error, with its role. */
async function createFolder(dir: string, what: string, mode?: number): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode });
  } catch (e) {
    throw new Error(`could not create ${what}: ${(e as Error).message}`);
  }
}

async function isSymlink(file: string): Promise<boolean> {
  try {
    return (await lstat(file)).isSymbolicLink();
  } catch {
    return false;
  }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
