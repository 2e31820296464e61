import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetFormat } from './dataset-config.js';
import { DataError } from './errors.js';
import { isSampleFile } from './formats/index.js';

/**
 * Regular sample files (see isSampleFile) under a dataset root (recursive), as root-relative paths sorted by
 * code unit: the order ingestion gives them keys. Skips dotfiles and dot-directories, names ending in .tmp or
 * .partial (files still being written), and symlinks.
 */
export async function sampleFilesUnder(root: string, format: DatasetFormat): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && prefix === '') throw new DataError(`dataset root ${root} does not exist`);
      throw e;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || /\.(tmp|partial)$/.test(entry.name)) continue;
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile() && isSampleFile(format, entry.name)) found.push(prefix + entry.name);
    }
  };
  await walk(root, '');
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
