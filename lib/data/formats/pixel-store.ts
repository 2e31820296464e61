/**
 * Decoded images kept inside the dataset root, so a process that did not ingest them (the gpu worker, maybe on
 * another machine mounting the same root) reads pixels instead of decoding every image again. One file per image
 * and decode setting, `<root>/.tideline-pixels/<channels>x<height>x<width>/<relative>.px`: a header (magic, the
 * settings, the source's size and mtime in ns, a CRC-32 of the pixels) then the uint8 HWC pixels. An entry is
 * served only when all of these match, so a changed source, changed settings or a damaged entry read as a miss;
 * entries are written to a temporary name and renamed into place. findNewFiles skips dot-directories.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { PortableIdentity } from './file-identity.js';

export const PIXEL_STORE_DIR = '.tideline-pixels';
/** "TPX1"; a new decoding (another resize kernel, colour handling) must change it so old entries read as misses. */
const MAGIC = 0x31585054;
const HEADER_BYTES = 36;

export interface DecodeSettings {
  channels: number;
  height: number;
  width: number;
}

export interface StoreEntry {
  /** The dataset root, where the store lives. */
  root: string;
  path: string;
}

/** Roots where an entry could not be written (read-only mount, no permission, full disk): not tried again. */
const unwritableRoots = new Set<string>();

/** The entry of `relative` (a root-relative path with "/" separators, as resolveInRoot gives it) under `settings`. */
export function storeEntry(settings: DecodeSettings, absolute: string, relative: string): StoreEntry {
  const segments = relative.split('/');
  const root = path.resolve(absolute, ...segments.map(() => '..'));
  const folder = `${settings.channels}x${settings.height}x${settings.width}`;
  return { root, path: `${path.join(root, PIXEL_STORE_DIR, folder, ...segments)}.px` };
}

/** The stored pixels of `source`, or undefined when there is no valid entry for this version and these settings. */
export async function readStoredPixels(entry: StoreEntry, settings: DecodeSettings, source: PortableIdentity): Promise<Uint8Array | undefined> {
  const expected = HEADER_BYTES + settings.channels * settings.height * settings.width;
  let handle;
  try {
    handle = await open(entry.path, 'r');
  } catch {
    return undefined;
  }
  try {
    // One byte more than an entry holds, so a longer file is seen as not this entry.
    const buffer = Buffer.allocUnsafeSlow(expected + 1);
    const { bytesRead } = await handle.read(buffer, 0, expected + 1, 0);
    if (bytesRead !== expected) return undefined;
    const pixels = buffer.subarray(HEADER_BYTES, expected);
    const valid = buffer.readUInt32LE(0) === MAGIC
      && buffer.readUInt32LE(4) === settings.channels
      && buffer.readUInt32LE(8) === settings.height
      && buffer.readUInt32LE(12) === settings.width
      && buffer.readBigUInt64LE(16) === source.size
      && buffer.readBigInt64LE(24) === source.mtimeNs
      && buffer.readUInt32LE(32) === crc32(pixels);
    return valid ? pixels : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Stores the pixels of `source` atomically, replacing any older entry. A root where that fails gets one process
 * warning and no further attempts: the store only saves work, so reading and training go on without it.
 */
export async function writeStoredPixels(entry: StoreEntry, settings: DecodeSettings, source: PortableIdentity, pixels: Uint8Array): Promise<void> {
  if (unwritableRoots.has(entry.root)) return;
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(settings.channels, 4);
  header.writeUInt32LE(settings.height, 8);
  header.writeUInt32LE(settings.width, 12);
  header.writeBigUInt64LE(source.size, 16);
  header.writeBigInt64LE(source.mtimeNs, 24);
  header.writeUInt32LE(crc32(pixels), 32);
  // Unique across processes and machines sharing the root, so concurrent writers never share a temporary file.
  const temp = `${entry.path}.${randomUUID()}.tmp`;
  const bytes = Buffer.concat([header, pixels]);
  try {
    try {
      await writeFile(temp, bytes);
    } catch (e) {
      // The entry's folder is made only when missing: a mkdir per entry would cost about a tenth of a decode.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(path.dirname(entry.path), { recursive: true });
      await writeFile(temp, bytes);
    }
    await rename(temp, entry.path);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    if (unwritableRoots.has(entry.root)) return;
    unwritableRoots.add(entry.root);
    process.emitWarning(`decoded images are not stored in ${path.join(entry.root, PIXEL_STORE_DIR)} (${(e as Error).message}); processes that did not ingest them decode them again`, { code: 'TIDELINE_PIXEL_STORE' });
  }
}
