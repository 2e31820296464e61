import type { BigIntStats, Stats } from 'node:fs';

/**
 * One version of a file's content, for caches of what was derived from it: writing to the file changes its
 * mtime and ctime (with sub-millisecond resolution), replacing it changes its inode.
 */
export type FileVersion = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;

export function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino && a.dev === b.dev;
}

/** A FileVersion as a string, for keys; from a BigInt stat, to the nanosecond. */
export function fileIdentity(info: Stats | BigIntStats): string {
  const [mtime, ctime] = 'mtimeNs' in info ? [info.mtimeNs, info.ctimeNs] : [info.mtimeMs, info.ctimeMs];
  return `${info.dev}:${info.ino}:${info.size}:${mtime}:${ctime}`;
}

/**
 * The version of a file's content as every machine mounting it sees it (device, inode and ctime differ between
 * NFS clients or change on a copy): for what is stored next to the file on a shared volume.
 */
export interface PortableIdentity {
  size: bigint;
  mtimeNs: bigint;
}

export function portableIdentity(info: BigIntStats): PortableIdentity {
  return { size: info.size, mtimeNs: info.mtimeNs };
}
