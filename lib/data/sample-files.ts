import type { Dirent } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetFormat } from './dataset-config.js';
import { DataError } from './errors.js';
import { isSampleFile } from './formats/index.js';
import { isInside } from './paths.js';

/** Symlinks already warned about: a dataset is scanned on every poll, and one warning per link is enough. */
const warnedLinks = new Set<string>();

/**
 * Regular sample files (see isSampleFile) under a dataset root (recursive), as root-relative paths sorted by
 * code unit: the order ingestion gives them keys. Skips dotfiles and dot-directories, names ending in .tmp or
 * .partial (files still being written), and symlinks, never followed: one whose target is outside the root (like
 * a `..` path) is named in a process warning, since the dataset would otherwise read files its owner did not put there.
 */
export async function sampleFilesUnder(root: string, format: DatasetFormat): Promise<string[]> {
  const found: string[] = [];
  let realRoot: string | undefined;
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
      if (entry.isSymbolicLink()) {
        realRoot ??= await realpath(root);
        await warnIfOutside(path.join(dir, entry.name), realRoot, root);
      } else if (entry.isDirectory()) await walk(path.join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.isFile() && isSampleFile(format, entry.name)) found.push(prefix + entry.name);
    }
  };
  await walk(root, '');
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

async function warnIfOutside(link: string, realRoot: string, root: string): Promise<void> {
  // A dangling link points nowhere to read from.
  const target = await realpath(link).catch(() => undefined);
  const relative = target === undefined ? '' : path.relative(realRoot, target);
  if (target === undefined || relative === '' || isInside(relative) || warnedLinks.has(link)) return;
  warnedLinks.add(link);
  process.emitWarning(`${link}: a symlink to ${target}, outside the dataset root ${root}; skipped, never read`, {
    code: 'TIDELINE_SYMLINK_OUTSIDE_ROOT',
  });
}
