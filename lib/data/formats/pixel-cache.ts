/**
 * Decoded images (uint8 HWC pixels) shared by every loader of the process, least recently used out first.
 * Decoding a 32×32 PNG with sharp costs about 0.6-1.3 ms on the development machine, as much as a CNN train step
 * spends on the sample, so each image is decoded once (at ingestion or first read) and then served from here.
 * An entry is only served while the file's version (file-identity.ts) is unchanged, so a rewritten or replaced
 * file is decoded again, never served stale. Other processes find the pixels in the dataset's store
 * (pixel-store.ts); this cache still saves them reading it.
 */
import { sameVersion, type FileVersion } from './file-identity.js';

const MAX_BYTES = 512 * 2 ** 20;

interface Entry {
  version: FileVersion;
  pixels: Uint8Array;
}

const entries = new Map<string, Entry>();
let bytes = 0;

/** `key` names the file and the decoding (format) settings; `version`, the file's as it is now. */
export function cachedPixels(key: string, version: FileVersion): Uint8Array | undefined {
  const entry = entries.get(key);
  if (!entry) return undefined;
  if (!sameVersion(entry.version, version)) {
    forget(key, entry);
    return undefined;
  }
  entries.delete(key);
  entries.set(key, entry);
  return entry.pixels;
}

export function cachePixels(key: string, version: FileVersion, pixels: Uint8Array): void {
  const old = entries.get(key);
  if (old) forget(key, old);
  if (pixels.byteLength > MAX_BYTES) return;
  const { dev, ino, size, mtimeMs, ctimeMs } = version;
  entries.set(key, { version: { dev, ino, size, mtimeMs, ctimeMs }, pixels });
  bytes += pixels.byteLength;
  for (const [oldest, entry] of entries) {
    if (bytes <= MAX_BYTES) break;
    forget(oldest, entry);
  }
}

function forget(key: string, entry: Entry): void {
  entries.delete(key);
  bytes -= entry.pixels.byteLength;
}

/** Empties the cache, as a new process starts: for tests and benchmarks of what other processes read. */
export function clearPixelCache(): void {
  entries.clear();
  bytes = 0;
}
