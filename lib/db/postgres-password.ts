import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The superuser password of clusters made before passwords were generated per data folder. */
const LEGACY_PASSWORD = 'tideline';

/**
 * The file keeping the superuser password of the cluster in `dataDir`: next to the folder, not in it,
 * so that it stays with Tideline's user when the data is relocated to or owned by the postgres user.
 */
export function passwordFilePath(dataDir: string): string {
  return path.join(path.dirname(dataDir), `.${path.basename(dataDir)}-password`);
}

/** The password of an existing cluster in `dataDir`: its password file, else the fixed one older clusters were made with. */
export async function existingPassword(dataDir: string): Promise<string> {
  const file = passwordFilePath(dataDir);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return LEGACY_PASSWORD;
    throw new Error(`could not read PostgreSQL's password file ${file}: ${(e as Error).message}`);
  }
}

/** The password for a cluster about to be created in `dataDir`: the one a failed earlier initdb left, else a new random one, saved readable by its owner only. */
export async function newClusterPassword(dataDir: string): Promise<string> {
  const file = passwordFilePath(dataDir);
  if (existsSync(file)) return existingPassword(dataDir);
  const password = randomBytes(24).toString('base64url');
  try {
    await writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new Error(`could not write PostgreSQL's password file ${file}: ${(e as Error).message}`);
  }
  return password;
}
