import type { Stats } from 'node:fs';

/**
 * One version of a file's content, for caches of what was derived from it: writing to the file changes its
 * mtime and ctime (with sub-millisecond resolution), replacing it changes its inode.
 */
export function fileIdentity(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}
