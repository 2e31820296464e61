import { open, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import type { DatasetFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import type { FeatureSource, FileSamples, StoredFile } from './index.js';

type BinaryFormat = Extract<DatasetFormat, { kind: 'binary' }>;

const SCAN_CHUNK_BYTES = 8 << 20;
// Coalescing limits for payload reads: a gap of up to 64 KiB is cheaper to read through than to
// seek over, and 1 MiB ranges keep each read short (see the data-plane measurements).
const MAX_GAP_BYTES = 64 << 10;
const MAX_RANGE_BYTES = 1 << 20;
const HOST_LITTLE_ENDIAN = os.endianness() === 'LE';
const INT32_MAX = 2147483647;

/**
 * Reads labels and timestamps of every record, validating size and label range. The file is read
 * in chunks, so a file of any size only needs its label and timestamp columns in memory.
 */
export async function scanBinary(format: BinaryFormat, absolute: string, relative: string, mtimeS: number): Promise<FileSamples> {
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
    const little = format.byteOrder === 'little';
    const chunkRecords = Math.max(1, Math.floor(SCAN_CHUNK_BYTES / recordSize));
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
        labels[first + r] = checkLabel(format, readLabel(format, view, at, little), relative, fileOffset);
        if (format.timestamp) timestamps[first + r] = readTimestamp(format.timestamp, view, at, little, relative, fileOffset);
      }
    }
    return { count, labels, timestamps };
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
    throw new IngestError(relative, `timestamp ${ts} is not a representable number of seconds`, { offset: recordOffset });
  }
  return ts;
}

/** Reads features of the requested records: sorted by offset and coalesced into range reads. */
export function binaryFeatureSource(format: BinaryFormat): FeatureSource {
  const { recordSize } = format;
  const features = format.features.count;
  const buffer = Buffer.allocUnsafe(MAX_RANGE_BYTES + recordSize);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const little = format.byteOrder === 'little';
  const copyBytes = little === HOST_LITTLE_ENDIAN;

  return {
    async read(file: StoredFile, picks, out) {
      const sorted = [...picks].sort((a, b) => a.index - b.index);
      const handle = await open(file.absolute, 'r');
      try {
        const { size } = await handle.stat();
        if (size !== file.sizeBytes) throw new DataError(`${file.relative}: file changed since ingestion (size ${size}, was ${file.sizeBytes})`);
        let i = 0;
        while (i < sorted.length) {
          const start = sorted[i]!.index * recordSize;
          let j = i + 1;
          while (j < sorted.length) {
            const next = sorted[j]!.index * recordSize;
            if (next - (sorted[j - 1]!.index + 1) * recordSize > MAX_GAP_BYTES || next + recordSize - start > MAX_RANGE_BYTES) break;
            j++;
          }
          const length = (sorted[j - 1]!.index + 1) * recordSize - start;
          if (!(await readFully(handle, buffer, length, start))) throw new DataError(`${file.relative}: file changed since ingestion`);
          for (let k = i; k < j; k++) {
            const { index, row } = sorted[k]!;
            const from = index * recordSize - start + format.features.offset;
            if (copyBytes) {
              // Stored floats already have the host's byte order: copy them as bytes.
              new Uint8Array(out.buffer, out.byteOffset + row * features * 4, features * 4).set(buffer.subarray(from, from + features * 4));
            } else {
              for (let f = 0; f < features; f++) out[row * features + f] = view.getFloat32(from + 4 * f, little);
            }
          }
          i = j;
        }
      } finally {
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
