import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from './errors.js';

export interface ResolvedPath {
  absolute: string;
  /** Relative to the dataset root with "/" separators: the form stored in `files.path`. */
  relative: string;
}

/**
 * Resolves `file` (absolute, or relative to `root`) to a file inside `root`. Refuses paths that
 * leave the root lexically (`..`, another absolute path) or through a symlink.
 */
export async function resolveInRoot(root: string, file: string): Promise<ResolvedPath> {
  const absolute = path.resolve(root, file);
  const relative = path.relative(root, absolute);
  if (!isInside(relative)) throw new DataError(`${file}: outside the dataset root ${root}`);
  let realRoot: string;
  let real: string;
  try {
    [realRoot, real] = await Promise.all([realpath(root), realpath(absolute)]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`${relative}: no such file in the dataset root ${root}`);
    throw e;
  }
  if (!isInside(path.relative(realRoot, real))) throw new DataError(`${relative}: resolves outside the dataset root ${root}`);
  return { absolute, relative: relative.split(path.sep).join('/') };
}

/** True when `relative` (a path.relative answer) names something below its base, not the base itself nor outside it. */
export function isInside(relative: string): boolean {
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}
