import { isUtf8 } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import type { BadRows, TextFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import { BadRowLog } from '../skipped-rows.js';
import type { FeatureSource, FileSamples, StoredFile } from './index.js';
import { fileIdentity } from './file-identity.js';

const CHUNK_BYTES = 8 << 20;
// Picked lines closer than this are read in one range; ranges stay short (see binary.ts).
const MAX_GAP_BYTES = 64 << 10;
const MAX_RANGE_BYTES = 1 << 20;
const LF = 10;
const CR = 13;
const INTEGER = /^\s*[+-]?\d+\s*$/;
const TOKEN = /[\p{L}\p{N}]+/gu;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/**
 * Lines the training loader tokenizes at a time, ahead of the trainer. A chunk's shuffled picks span about the
 * whole partition, so each chunk reads that span again (from the page cache), at no measured cost: the loader
 * alone still gave about 60k lines/s, and the first batch of a 200k-line file came after 0.5 s instead of 1.5 s.
 */
const TEXT_CHUNK_ROWS = 4096;
/** Line indexes kept per process, by file; an index is a few bytes per line. */
const MAX_INDEXED_FILES = 4096;

/** Byte ranges [start, end) of a file's sample lines (line breaks excluded), in file order. */
interface LineIndex {
  identity: string;
  starts: Float64Array;
  ends: Float64Array;
}

const lineIndexes = new Map<string, LineIndex>();

/** 32-bit FNV-1a over the UTF-8 bytes of `token`, masked to a non-negative int32. */
export function hashToken(token: string): number {
  let h = FNV_OFFSET;
  const byte = (b: number) => { h = Math.imul(h ^ b, FNV_PRIME); };
  for (const ch of token) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) byte(c);
    else if (c < 0x800) { byte(0xc0 | (c >> 6)); byte(0x80 | (c & 63)); }
    else if (c < 0x10000) { byte(0xe0 | (c >> 12)); byte(0x80 | ((c >> 6) & 63)); byte(0x80 | (c & 63)); }
    else { byte(0xf0 | (c >> 18)); byte(0x80 | ((c >> 12) & 63)); byte(0x80 | ((c >> 6) & 63)); byte(0x80 | (c & 63)); }
  }
  return h & 0x7fffffff;
}

/** Token ids of `text` into out[at .. at + maxTokens): hashed tokens, truncated, then -1 padding. */
export function tokenIds(format: TextFormat, text: string, out: Int32Array, at: number): void {
  let n = 0;
  for (const [token] of (format.lowercase ? text.toLowerCase() : text).matchAll(TOKEN)) {
    if (n === format.maxTokens) break;
    out[at + n++] = hashToken(token);
  }
  out.fill(-1, at + n, at + format.maxTokens);
}

/** The parts of one sample line; throws a reason (without file or line) when it is malformed. */
function splitLine(format: TextFormat, line: string): { label: string; timestamp?: string; text: string } {
  const first = line.indexOf(format.separator);
  if (first < 0) throw new Error(`no separator ${JSON.stringify(format.separator)} after the label`);
  const label = line.slice(0, first);
  if (!format.timestamp) return { label, text: line.slice(first + 1) };
  const second = line.indexOf(format.separator, first + 1);
  if (second < 0) throw new Error(`no separator ${JSON.stringify(format.separator)} after the timestamp`);
  return { label, timestamp: line.slice(first + 1, second), text: line.slice(second + 1) };
}

/**
 * Every non-blank line of the file, read in chunks (any file size): its text without the line break, its bytes
 * (a view, valid until the next line), its byte range and its 1-based line number.
 */
async function* fileLines(handle: FileHandle): AsyncGenerator<{ text: string; bytes: Buffer; start: number; end: number; line: number }> {
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let carry = Buffer.alloc(0);
  let carryStart = 0;
  let position = 0;
  let line = 0;
  for (;;) {
    const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position);
    const data = bytesRead === 0 ? carry : Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
    position += bytesRead;
    let from = 0;
    for (;;) {
      let lf = data.indexOf(LF, from);
      if (lf < 0) {
        if (bytesRead !== 0 || from >= data.length) break;
        lf = data.length;
      }
      line++;
      const end = lf > from && data[lf - 1] === CR ? lf - 1 : lf;
      const text = data.toString('utf8', from, end);
      if (text.trim() !== '') yield { text, bytes: data.subarray(from, end), start: carryStart + from, end: carryStart + end, line };
      from = lf + 1;
    }
    if (bytesRead === 0) return;
    carry = data.subarray(from);
    carryStart += from;
  }
}

/**
 * Labels and timestamps of every line. A malformed line (invalid UTF-8 too) rejects the file with its line
 * number, or with badRows 'skip' is left out (see BadRowLog). The line index keeps every non-blank line, as
 * lineIndex builds it, so a sample's index is its line's place among them.
 */
export async function scanText(format: TextFormat, absolute: string, relative: string, mtimeS: number, badRows: BadRows = 'reject'): Promise<FileSamples> {
  const handle = await open(absolute, 'r');
  try {
    const identity = fileIdentity(await handle.stat());
    const labels: number[] = [];
    const timestamps: number[] = [];
    const indexes: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    const log = new BadRowLog(badRows);
    for await (const { text, bytes, start, end, line } of fileLines(handle)) {
      const index = starts.length;
      starts.push(start);
      ends.push(end);
      const parsed = parseSampleLine(format, text, bytes);
      if ('reason' in parsed) {
        log.note(new IngestError(relative, parsed.reason, { line, column: parsed.column }));
        continue;
      }
      labels.push(parsed.label);
      timestamps.push(parsed.timestamp ?? Math.floor(mtimeS));
      indexes.push(index);
    }
    if (starts.length === 0) throw new IngestError(relative, 'no sample lines');
    const skipped = log.finish(labels.length);
    // A loader in this process then reads picked lines without scanning the file again.
    remember(absolute, { identity, starts: Float64Array.from(starts), ends: Float64Array.from(ends) });
    const samples = { count: labels.length, labels: Int32Array.from(labels), timestamps: Float64Array.from(timestamps) };
    return skipped ? { ...samples, indexes: Int32Array.from(indexes), skipped } : samples;
  } finally {
    await handle.close();
  }
}

/** A sample line's label and timestamp (absent without the timestamp field), or why it is malformed. */
function parseSampleLine(
  format: TextFormat,
  text: string,
  bytes: Buffer,
): { label: number; timestamp?: number } | { reason: string; column?: string } {
  // Decoding would replace invalid bytes with U+FFFD, silently changing the tokens.
  if (!isUtf8(bytes)) return { reason: 'invalid UTF-8' };
  let parts;
  try {
    parts = splitLine(format, text);
  } catch (e) {
    return { reason: (e as Error).message };
  }
  if (!INTEGER.test(parts.label)) return { reason: `label ${JSON.stringify(parts.label)} is not an integer`, column: 'label' };
  const label = Number(parts.label);
  const limit = format.numClasses ?? 2 ** 31;
  if (label < 0 || label >= limit) {
    const range = format.numClasses === undefined ? 'a non-negative int32' : `[0, ${format.numClasses})`;
    return { reason: `label ${label} out of range ${range}`, column: 'label' };
  }
  if (parts.timestamp === undefined) return { label };
  if (!INTEGER.test(parts.timestamp) || !Number.isSafeInteger(Number(parts.timestamp))) {
    return { reason: `timestamp ${JSON.stringify(parts.timestamp)} is not an integer number of seconds`, column: 'timestamp' };
  }
  return { label, timestamp: Number(parts.timestamp) };
}

function remember(absolute: string, index: LineIndex): void {
  lineIndexes.delete(absolute);
  lineIndexes.set(absolute, index);
  if (lineIndexes.size > MAX_INDEXED_FILES) lineIndexes.delete(lineIndexes.keys().next().value!);
}

/** The file's line index, scanned once per file version (a changed file is scanned again). */
async function lineIndex(handle: FileHandle, file: StoredFile, identity: string): Promise<LineIndex> {
  const known = lineIndexes.get(file.absolute);
  if (known?.identity === identity) return known;
  const starts: number[] = [];
  const ends: number[] = [];
  for await (const { start, end } of fileLines(handle)) {
    starts.push(start);
    ends.push(end);
  }
  const index = { identity, starts: Float64Array.from(starts), ends: Float64Array.from(ends) };
  remember(file.absolute, index);
  return index;
}

/**
 * Token ids of the picked lines into `categorical` ([rows, maxTokens]). Line byte ranges come from a per-file
 * index (built at ingestion or on the first read); picked lines are read sorted, in coalesced ranges.
 */
export function textFeatureSource(format: TextFormat): FeatureSource {
  // Range buffers of finished reads, reused; each read needs its own, as the loader reads several files at once.
  const spare: Buffer[] = [];
  return {
    chunkRows: TEXT_CHUNK_ROWS,
    async read(file: StoredFile, picks, _out, categorical) {
      if (!categorical) throw new DataError(`${file.relative}: text samples need an output for their token ids`);
      const buffer = spare.pop() ?? Buffer.allocUnsafe(MAX_RANGE_BYTES);
      const handle = await open(file.absolute, 'r');
      try {
        const info = await handle.stat();
        if (info.size !== file.sizeBytes) throw new DataError(`${file.relative}: file changed since ingestion (size ${info.size}, was ${file.sizeBytes})`);
        const { starts, ends } = await lineIndex(handle, file, fileIdentity(info));
        const { indexes, rows } = picks;
        const last = indexes[indexes.length - 1];
        if (last !== undefined && last >= starts.length) throw new DataError(`${file.relative}: line ${last} missing; file changed since ingestion`);
        let i = 0;
        while (i < indexes.length) {
          const start = starts[indexes[i]!]!;
          let j = i + 1;
          while (j < indexes.length && starts[indexes[j]!]! - ends[indexes[j - 1]!]! <= MAX_GAP_BYTES && ends[indexes[j]!]! - start <= MAX_RANGE_BYTES) j++;
          const range = ends[indexes[j - 1]!]! - start;
          // A single line longer than the buffer gets its own.
          const into = range <= buffer.length ? buffer : Buffer.allocUnsafe(range);
          const { bytesRead } = await handle.read(into, 0, range, start);
          if (bytesRead !== range) throw new DataError(`${file.relative}: file changed since ingestion`);
          for (let k = i; k < j; k++) {
            const index = indexes[k]!;
            const row = rows[k]!;
            const line = into.toString('utf8', starts[index]! - start, ends[index]! - start);
            let text;
            try {
              text = splitLine(format, line).text;
            } catch (e) {
              throw new DataError(`${file.relative}: sample line ${index}: ${(e as Error).message}; file changed since ingestion`);
            }
            tokenIds(format, text, categorical, row * format.maxTokens);
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
