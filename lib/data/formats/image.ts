import type { BigIntStats, Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import { resolveInRoot } from '../paths.js';
import type { FeatureSource, FileSamples, Picks, StoredFile } from './index.js';
import { portableIdentity } from './file-identity.js';
import { FileStatus } from './file-status.js';
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
 * Images decoded ahead of training a batch at a time (a chunk ends at the first batch boundary): each batch is
 * decoded straight into the buffer the trainer receives, and the one batch not overlapped with training (at the
 * start of each partition) costs little. Every read slot stays busy, as all of a partition's chunks are queued.
 */
const IMAGE_CHUNK_ROWS = 1;

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

/** A loader's read of an image: the file as it was ingested, and how the loader stats it. */
interface LoaderRead {
  file: StoredFile;
  status: FileStatus;
}

/**
 * HWC uint8 pixels at the format's size and channels: from the process's cache when one stat shows the file
 * unchanged, else from the store in the dataset root (pixel-store.ts), else decoded and stored. A decode reads
 * the file through one handle, so the version kept with the pixels is that of the bytes decoded. A loader's read
 * checks the file against its size at ingestion, and its place in the root (resolveInRoot) only before decoding
 * it: cached and stored pixels were decoded from a version of a file checked then (or at ingestion), or from the
 * store inside the root, so serving them reads nothing from wherever a symlink swapped in since may lead.
 */
async function loadPixels(format: ImageFormat, absolute: string, relative: string, read?: LoaderRead): Promise<Uint8Array> {
  const key = pixelKey(format, absolute);
  const checkSize = (size: number) => {
    if (read && size !== read.file.sizeBytes) throw new DataError(`${relative}: file changed since ingestion (size ${size}, was ${read.file.sizeBytes})`);
  };
  const current = read ? await statForRead(read, relative) : await stat(absolute);
  checkSize(current.size);
  const cached = cachedPixels(key, current);
  if (cached) return cached;
  const entry = format.pixelStore === false ? undefined : storeEntry(format, absolute, relative);
  // The store's entries name the version they hold to the nanosecond, which only a BigInt stat gives.
  const stored = entry && await readStoredPixels(entry, format, portableIdentity(await stat(absolute, { bigint: true })));
  if (stored) {
    cachePixels(key, current, stored);
    return stored;
  }
  if (read) await resolveInRoot(read.file.root, relative);
  const handle = await open(absolute, 'r');
  let info: Stats;
  let exact: BigIntStats;
  let pixels: Uint8Array;
  try {
    [info, exact] = await Promise.all([handle.stat(), handle.stat({ bigint: true })]);
    checkSize(info.size);
    pixels = await decodeImage(format, await handle.readFile(), relative);
  } finally {
    await handle.close();
  }
  cachePixels(key, info, pixels);
  if (entry) await writeStoredPixels(entry, format, portableIdentity(exact), pixels);
  return pixels;
}

/** The pixel cache's key of an image: its path and the decode settings. */
function pixelKey(format: ImageFormat, absolute: string): string {
  return `${format.channels}x${format.height}x${format.width}:${absolute}`;
}

async function statForRead({ file, status }: LoaderRead, relative: string): Promise<Stats> {
  try {
    return await status.of(file.absolute);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DataError(`${relative}: no such file in the dataset root ${file.root}`);
    throw e;
  }
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
  const features = format.channels * format.height * format.width;
  const toChw = normalizedChw(format);
  const write = (file: StoredFile, pixels: Uint8Array, picks: Picks, out: Float32Array) => {
    for (let k = 0; k < picks.indexes.length; k++) {
      const index = picks.indexes[k]!;
      if (index !== 0) throw new DataError(`${file.relative}: sample ${index} requested, but an image file holds one`);
      toChw(pixels, out, picks.rows[k]! * features);
    }
  };
  // One per loader (featureSource is made per loader): each learns again how fast the file system answers.
  const status = new FileStatus();
  return {
    concurrency: IMAGE_READ_CONCURRENCY,
    chunkRows: IMAGE_CHUNK_ROWS,
    checksPaths: true,
    readNow(file, picks, out) {
      // Anything but pixels cached for the file as it is (a miss, a changed or missing file, a slow file system)
      // takes `read`, which also reports what is wrong.
      const current = status.now(file.absolute);
      if (!current || current.size !== file.sizeBytes) return false;
      const pixels = cachedPixels(pixelKey(format, file.absolute), current);
      if (!pixels) return false;
      write(file, pixels, picks, out);
      return true;
    },
    async read(file, picks, out) {
      let pixels: Uint8Array;
      try {
        pixels = await loadPixels(format, file.absolute, file.relative, { file, status });
      } catch (e) {
        if (e instanceof IngestError) throw new DataError(`${e.message} (changed since ingestion)`);
        throw e;
      }
      write(file, pixels, picks, out);
    },
  };
}

/**
 * Writes HWC uint8 pixels as normalized float32 CHW at out[at ...]: (v / 255 - mean) / std as one multiply-add per
 * value. RGB pixels are read in order and written to the three planes at once, twice as fast as a pass per plane
 * with a stride of 3.
 */
function normalizedChw(format: ImageFormat): (pixels: Uint8Array, out: Float32Array, at: number) => void {
  const plane = format.height * format.width;
  const [s0, s1, s2] = format.std.map((s) => 1 / (255 * s)) as [number, number, number];
  const [b0, b1, b2] = format.mean.map((m, c) => -m / format.std[c]!) as [number, number, number];
  if (format.channels === 1) {
    return (pixels, out, at) => {
      for (let p = 0; p < plane; p++) out[at + p] = pixels[p]! * s0 + b0;
    };
  }
  return (pixels, out, at) => {
    for (let p = 0, from = 0; p < plane; p++, from += 3) {
      out[at + p] = pixels[from]! * s0 + b0;
      out[at + plane + p] = pixels[from + 1]! * s1 + b1;
      out[at + 2 * plane + p] = pixels[from + 2]! * s2 + b2;
    }
  };
}
