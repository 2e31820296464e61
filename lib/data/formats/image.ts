import type { BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import type { FeatureSource, FileSamples, StoredFile } from './index.js';
import { fileIdentity, portableIdentity } from './file-identity.js';
import { cachedPixels, cachePixels } from './pixel-cache.js';
import { readStoredPixels, storeEntry, writeStoredPixels } from './pixel-store.js';
import { readSidecarInteger } from './sidecar.js';

const INTEGER_NAME = /^\d+$/;
/**
 * Images read at once by one loader. Decodes run in libuv's pool (4 threads): the measured per-sample cost
 * stops falling beyond 4 in flight; the extra ones hide the stat round trip of cached images.
 */
const IMAGE_READ_CONCURRENCY = 8;
/**
 * Images decoded ahead of training, a chunk at a time: small enough that the one chunk not overlapped with
 * training (at the start of each partition) costs little, large enough to keep every read slot busy.
 */
const IMAGE_CHUNK_ROWS = 128;

/** Whether `name` (a file name or path) is an image of the format, not a sidecar or another file. */
export function isImageFile(format: ImageFormat, name: string): boolean {
  return format.extensions.includes(path.extname(name).toLowerCase());
}

/** One sample: the image must decode; its label comes from its folder or sidecar, its timestamp from a sidecar or mtime. */
export async function scanImage(format: ImageFormat, absolute: string, relative: string, mtimeS: number): Promise<FileSamples> {
  const label = await imageLabel(format, absolute, relative);
  const timestamp = format.timestamp ? await readSidecarInteger(absolute, relative, format.timestamp.suffix, 'timestamp') : Math.floor(mtimeS);
  // Decoding here rejects a corrupt image at ingestion and leaves its pixels cached and stored for training.
  await loadPixels(format, absolute, relative);
  return { count: 1, labels: Int32Array.of(label), timestamps: Float64Array.of(timestamp) };
}

async function imageLabel(format: ImageFormat, absolute: string, relative: string): Promise<number> {
  let label: number;
  if (format.label.from === 'sidecar') {
    label = await readSidecarInteger(absolute, relative, format.label.suffix, 'label');
  } else {
    const folder = relative.split('/').at(-2);
    if (folder === undefined) throw new IngestError(relative, 'not in a class folder (label.from is "folder")');
    const { classes } = format.label;
    if (classes) {
      label = classes.indexOf(folder);
      if (label < 0) throw new IngestError(relative, `unknown class folder ${JSON.stringify(folder)} (not in label.classes)`);
    } else {
      if (!INTEGER_NAME.test(folder)) throw new IngestError(relative, `class folder ${JSON.stringify(folder)} is not an integer (name the classes in label.classes)`);
      label = Number(folder);
    }
  }
  const limit = format.numClasses ?? 2 ** 31;
  if (label < 0 || label >= limit) {
    const range = format.numClasses === undefined ? 'a non-negative int32' : `[0, ${format.numClasses})`;
    throw new IngestError(relative, `label ${label} out of range ${range}`);
  }
  return label;
}

/**
 * HWC uint8 pixels at the format's size and channels: from the process's cache when one stat shows the file
 * unchanged, else from the store in the dataset root (pixel-store.ts), else decoded and stored. A decode reads
 * the file through one handle, so the identity kept with the pixels is that of the bytes decoded.
 */
async function loadPixels(format: ImageFormat, absolute: string, relative: string, sizeBytes?: number): Promise<Uint8Array> {
  const key = `${format.channels}x${format.height}x${format.width}:${absolute}`;
  const checkSize = (size: bigint) => {
    if (sizeBytes !== undefined && size !== BigInt(sizeBytes)) throw new DataError(`${relative}: file changed since ingestion (size ${size}, was ${sizeBytes})`);
  };
  const current = await stat(absolute, { bigint: true });
  checkSize(current.size);
  const cached = cachedPixels(key, fileIdentity(current));
  if (cached) return cached;
  const entry = format.pixelStore === false ? undefined : storeEntry(format, absolute, relative);
  const stored = entry && await readStoredPixels(entry, format, portableIdentity(current));
  if (stored) {
    cachePixels(key, fileIdentity(current), stored);
    return stored;
  }
  const handle = await open(absolute, 'r');
  let info: BigIntStats;
  let pixels: Uint8Array;
  try {
    info = await handle.stat({ bigint: true });
    checkSize(info.size);
    pixels = await decodeImage(format, await handle.readFile(), relative);
  } finally {
    await handle.close();
  }
  cachePixels(key, fileIdentity(info), pixels);
  if (entry) await writeStoredPixels(entry, format, portableIdentity(info), pixels);
  return pixels;
}

async function decodeImage(format: ImageFormat, bytes: Buffer, relative: string): Promise<Uint8Array> {
  const { channels, height, width } = format;
  if (bytes.length === 0) throw new IngestError(relative, 'empty file, not an image');
  let data: Buffer;
  // sharp refuses some inputs as it is constructed, others as it decodes: both are this file's fault.
  try {
    let image = sharp(bytes, { failOn: 'warning' }).resize(width, height, { fit: 'fill' });
    image = channels === 1 ? image.grayscale().removeAlpha() : image.removeAlpha().toColourspace('srgb');
    ({ data } = await image.raw().toBuffer({ resolveWithObject: true }));
  } catch (e) {
    throw new IngestError(relative, `image does not decode: ${(e as Error).message}`);
  }
  if (data.length !== channels * height * width) {
    throw new IngestError(relative, `decoded to ${data.length} bytes, expected ${channels}×${height}×${width}`);
  }
  return data;
}

/** Writes each picked image as normalized float32 CHW; images are cached and stored decoded (pixel-cache.ts, pixel-store.ts). */
export function imageFeatureSource(format: ImageFormat): FeatureSource {
  const { channels, height, width } = format;
  const plane = height * width;
  const features = channels * plane;
  // (v / 255 - mean) / std as one multiply-add per value.
  const scale = format.std.map((s) => 1 / (255 * s));
  const bias = format.mean.map((m, c) => -m / format.std[c]!);
  return {
    concurrency: IMAGE_READ_CONCURRENCY,
    chunkRows: IMAGE_CHUNK_ROWS,
    async read(file: StoredFile, picks, out) {
      let pixels: Uint8Array;
      try {
        pixels = await loadPixels(format, file.absolute, file.relative, file.sizeBytes);
      } catch (e) {
        if (e instanceof IngestError) throw new DataError(`${e.message} (changed since ingestion)`);
        throw e;
      }
      for (let k = 0; k < picks.indexes.length; k++) {
        const index = picks.indexes[k]!;
        const row = picks.rows[k]!;
        if (index !== 0) throw new DataError(`${file.relative}: sample ${index} requested, but an image file holds one`);
        const base = row * features;
        for (let c = 0; c < channels; c++) {
          const s = scale[c]!;
          const b = bias[c]!;
          const to = base + c * plane;
          for (let p = 0, from = c; p < plane; p++, from += channels) out[to + p] = pixels[from]! * s + b;
        }
      }
    },
  };
}
