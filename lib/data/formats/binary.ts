import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import type { BadRows, DatasetFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import { BadRowLog } from '../skipped-rows.js';
import type { FeatureSource, FileSamples, StoredFile } from './index.js';

type BinaryFormat = Extract<DatasetFormat, { kind: 'binary' }>;

// Scans read 1 MiB at a time (less for a smaller file): a few of them run at once, and buffers this size
// stay cheap to allocate.
const SCAN_CHUNK_BYTES = 1 << 20;
// Coalescing limits for payload reads: a gap of up to 64 KiB is cheaper to read through than to
// seek over, and a range of 256 KiB (1,600 Criteo records) is decoded in about a millisecond, so the
// event loop is never held long between reads.
const MAX_GAP_BYTES = 64 << 10;
const MAX_RANGE_BYTES = 256 << 10;
// log1p of the small non-negative counts that dominate count features, precomputed (float32, as stored).
const LOG1P_TABLE = Float32Array.from({ length: 4096 }, (_, v) => Math.log1p(v));
const HOST_LITTLE_ENDIAN = os.endianness() === 'LE';
const INT32_MAX = 2147483647;
const INT32_MIN_BIG = -(2n ** 31n);
const INT32_MAX_BIG = 2n ** 31n - 1n;

/**
 * Reads labels and timestamps of every record, validating size, label range, that float32 features are
 * finite and that int64 categorical ids fit in int32. A bad record rejects the file, or with badRows 'skip' is
 * left out (see BadRowLog); a size that is not whole records rejects it either way. The file is read in chunks,
 * so a file of any size only needs its label and timestamp columns in memory.
 */
export async function scanBinary(format: BinaryFormat, absolute: string, relative: string, mtimeS: number, badRows: BadRows = 'reject'): Promise<FileSamples> {
  const { recordSize } = format;
  const handle = await open(absolute, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) throw new IngestError(relative, 'empty file', { offset: 0 });
    if (size % recordSize !== 0) {
      throw new IngestError(relative, `truncated record (size ${size} is not a multiple of ${recordSize})`, {
        offset: size - (size % recordSize),
      });
    }
    const count = size / recordSize;
    const labels = new Int32Array(count);
    const timestamps = new Float64Array(count).fill(Math.floor(mtimeS));
    // Kept records' indexes in the file, which the feature source reads by.
    const indexes = new Int32Array(badRows === 'skip' ? count : 0);
    const log = new BadRowLog(badRows);
    let kept = 0;
    const little = format.byteOrder === 'little';
    const floatFeatures = (format.features.type ?? 'float32') === 'float32';
    const chunkRecords = Math.min(count, Math.max(1, Math.floor(SCAN_CHUNK_BYTES / recordSize)));
    const buffer = Buffer.allocUnsafe(chunkRecords * recordSize);
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    for (let first = 0; first < count; first += chunkRecords) {
      const records = Math.min(chunkRecords, count - first);
      if (!(await readFully(handle, buffer, records * recordSize, first * recordSize))) {
        throw new IngestError(relative, 'file shrank while being read', { offset: first * recordSize });
      }
      for (let r = 0; r < records; r++) {
        const at = r * recordSize;
        const fileOffset = (first + r) * recordSize;
        try {
          labels[kept] = checkLabel(format, readLabel(format, view, at, little), relative, fileOffset);
          if (format.timestamp) timestamps[kept] = readTimestamp(format.timestamp, view, at, little, relative, fileOffset);
          if (floatFeatures) checkFiniteFeatures(format, view, at, little, relative, fileOffset);
          if (format.categorical?.type === 'int64') checkCategorical64(format, view, at, little, relative, fileOffset);
        } catch (e) {
          if (!(e instanceof IngestError)) throw e;
          log.note(e, first + r);
          continue;
        }
        if (indexes.length > 0) indexes[kept] = first + r;
        kept++;
      }
    }
    const skipped = log.finish(kept);
    if (!skipped) return { count, labels, timestamps };
    return { count: kept, labels: labels.slice(0, kept), timestamps: timestamps.slice(0, kept), indexes: indexes.slice(0, kept), skipped };
  } finally {
    await handle.close();
  }
}

function readLabel(format: BinaryFormat, view: DataView, record: number, little: boolean): number {
  const at = record + format.label.offset;
  switch (format.label.type) {
    case 'uint8':
      return view.getUint8(at);
    case 'int32':
      return view.getInt32(at, little);
    case 'int64':
      return Number(view.getBigInt64(at, little));
  }
}

function checkLabel(format: BinaryFormat, label: number, relative: string, recordOffset: number): number {
  const limit = format.numClasses ?? INT32_MAX;
  if (label < 0 || label >= limit) {
    const range = format.numClasses === undefined ? 'a non-negative int32' : `[0, ${format.numClasses})`;
    throw new IngestError(relative, `label ${label} out of range ${range} in record ${recordOffset / format.recordSize}`, {
      offset: recordOffset,
      column: 'label',
    });
  }
  return label;
}

function readTimestamp(
  spec: NonNullable<BinaryFormat['timestamp']>,
  view: DataView,
  record: number,
  little: boolean,
  relative: string,
  recordOffset: number,
): number {
  const at = record + spec.offset;
  // Timestamps are whole seconds: fractional float64 seconds are truncated towards the past.
  const ts =
    spec.type === 'int32' ? view.getInt32(at, little) : spec.type === 'int64' ? Number(view.getBigInt64(at, little)) : Math.floor(view.getFloat64(at, little));
  if (!Number.isSafeInteger(ts)) {
    throw new IngestError(relative, `timestamp ${ts} is not a representable number of seconds`, { offset: recordOffset, column: 'timestamp' });
  }
  return ts;
}

/** Float32 features must be finite, as CSV features must be numbers: a NaN or ±Inf would only show as a NaN loss. */
function checkFiniteFeatures(format: BinaryFormat, view: DataView, record: number, little: boolean, relative: string, recordOffset: number): void {
  const { offset, count } = format.features;
  for (let f = 0; f < count; f++) {
    const value = view.getFloat32(record + offset + 4 * f, little);
    if (!Number.isFinite(value)) {
      throw new IngestError(relative, `feature[${f}] is ${value} in record ${recordOffset / format.recordSize}`, {
        offset: recordOffset + offset + 4 * f,
        column: `feature[${f}]`,
      });
    }
  }
}

/** int64 categorical ids must fit in int32 (Batch.categorical is an Int32Array). */
function checkCategorical64(format: BinaryFormat, view: DataView, record: number, little: boolean, relative: string, recordOffset: number): void {
  const { offset, count } = format.categorical!;
  for (let c = 0; c < count; c++) {
    const value = view.getBigInt64(record + offset + 8 * c, little);
    if (value < INT32_MIN_BIG || value > INT32_MAX_BIG) {
      throw new IngestError(relative, `categorical[${c}] ${value} out of int32 range in record ${recordOffset / format.recordSize}`, {
        offset: recordOffset + offset + 8 * c,
        column: `categorical[${c}]`,
      });
    }
  }
}

/** Writes `count` values of one record, starting at byte `from` of the buffer, to `out[at ...]`. */
type FieldDecoder<T extends Float32Array | Int32Array> = (view: DataView, from: number, out: T, at: number) => void;

/** Int32 and Float32 views of the buffer, when its 4-byte fields are aligned and in host byte order. */
interface WordViews {
  ints: Int32Array;
  floats: Float32Array;
}

/** Views for reading 4-byte fields as array elements (no DataView call, no allocation per record), if the layout allows. */
function wordViews(format: BinaryFormat, buffer: Buffer): WordViews | undefined {
  if (format.recordSize % 4 !== 0 || buffer.byteOffset % 4 !== 0 || (format.byteOrder === 'little') !== HOST_LITTLE_ENDIAN) return undefined;
  const length = buffer.byteLength >> 2;
  return { ints: new Int32Array(buffer.buffer, buffer.byteOffset, length), floats: new Float32Array(buffer.buffer, buffer.byteOffset, length) };
}

function denseDecoder(format: BinaryFormat, buffer: Buffer, words: WordViews | undefined): FieldDecoder<Float32Array> {
  const { count, type = 'float32', transform } = format.features;
  const little = format.byteOrder === 'little';
  if (type === 'float32' && !transform && little === HOST_LITTLE_ENDIAN) {
    // Stored floats already have the host's byte order: copy them as bytes.
    return (_view, from, out, at) => new Uint8Array(out.buffer, out.byteOffset + at * 4, count * 4).set(buffer.subarray(from, from + count * 4));
  }
  const aligned = words && format.features.offset % 4 === 0 ? (type === 'float32' ? words.floats : words.ints) : undefined;
  const read = aligned
    ? (_view: DataView, i: number) => aligned[i >> 2]!
    : type === 'float32' ? (view: DataView, i: number) => view.getFloat32(i, little) : (view: DataView, i: number) => view.getInt32(i, little);
  if (transform === 'log1p') {
    return (view, from, out, at) => {
      for (let f = 0; f < count; f++) {
        const v = read(view, from + 4 * f);
        out[at + f] = v >= 0 && v < LOG1P_TABLE.length && Number.isInteger(v) ? LOG1P_TABLE[v]! : Math.log1p(Math.max(0, v));
      }
    };
  }
  return (view, from, out, at) => {
    for (let f = 0; f < count; f++) out[at + f] = read(view, from + 4 * f);
  };
}

function categoricalDecoder(spec: NonNullable<BinaryFormat['categorical']>, little: boolean, buffer: Buffer, words: WordViews | undefined): FieldDecoder<Int32Array> {
  const { count, type } = spec;
  if (type === 'int32' && words && spec.offset % 4 === 0) {
    const { ints } = words;
    return (_view, from, out, at) => {
      const first = from >> 2;
      for (let c = 0; c < count; c++) out[at + c] = ints[first + c]!;
    };
  }
  if (type === 'int32' && little === HOST_LITTLE_ENDIAN) {
    return (_view, from, out, at) => new Uint8Array(out.buffer, out.byteOffset + at * 4, count * 4).set(buffer.subarray(from, from + count * 4));
  }
  if (type === 'int32') {
    return (view, from, out, at) => {
      for (let c = 0; c < count; c++) out[at + c] = view.getInt32(from + 4 * c, little);
    };
  }
  // Ingestion checked that every int64 id fits in int32, so its low word (signed) is its value.
  const low = little ? 0 : 4;
  return (view, from, out, at) => {
    for (let c = 0; c < count; c++) out[at + c] = view.getInt32(from + 8 * c + low, little);
  };
}

/** Reads features of the requested records: sorted by offset and coalesced into range reads. */
export function binaryFeatureSource(format: BinaryFormat): FeatureSource {
  const { recordSize } = format;
  const features = format.features.count;
  const categories = format.categorical?.count ?? 0;

  // Range buffers of finished reads, reused: the loader reads several files at once, each with its own.
  const spare: Buffer[] = [];
  return {
    async read(file: StoredFile, picks, out, categoricalOut) {
      if (format.categorical && !categoricalOut) throw new DataError(`${file.relative}: the format has categorical ids but no output for them was given`);
      const buffer = spare.pop() ?? Buffer.allocUnsafe(MAX_RANGE_BYTES + recordSize);
      const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      const words = wordViews(format, buffer);
      const dense = denseDecoder(format, buffer, words);
      const categorical = format.categorical && categoricalDecoder(format.categorical, format.byteOrder === 'little', buffer, words);
      const { indexes, rows } = picks;
      const handle = await open(file.absolute, 'r');
      try {
        const { size } = await handle.stat();
        if (size !== file.sizeBytes) throw new DataError(`${file.relative}: file changed since ingestion (size ${size}, was ${file.sizeBytes})`);
        let i = 0;
        while (i < indexes.length) {
          const start = indexes[i]! * recordSize;
          let j = i + 1;
          while (j < indexes.length) {
            const next = indexes[j]! * recordSize;
            if (next - (indexes[j - 1]! + 1) * recordSize > MAX_GAP_BYTES || next + recordSize - start > MAX_RANGE_BYTES) break;
            j++;
          }
          const length = (indexes[j - 1]! + 1) * recordSize - start;
          if (!(await readFully(handle, buffer, length, start))) throw new DataError(`${file.relative}: file changed since ingestion`);
          for (let k = i; k < j; k++) {
            const record = indexes[k]! * recordSize - start;
            const row = rows[k]!;
            dense(view, record + format.features.offset, out, row * features);
            if (categorical) categorical(view, record + format.categorical!.offset, categoricalOut!, row * categories);
          }
          i = j;
        }
      } finally {
        spare.push(buffer);
        await handle.close();
      }
    },
  };
}

/** Reads `length` bytes at `position` into the start of `buffer`; false if the file ends first. */
async function readFully(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<boolean> {
  for (let done = 0; done < length; ) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}
