import { isUtf8 } from 'node:buffer';
import { readFile, stat } from 'node:fs/promises';
import type { BadRows, DatasetFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import { BadRowLog, type SkippedRows } from '../skipped-rows.js';
import type { FeatureSource, StoredFile } from './index.js';

type CsvFormat = Extract<DatasetFormat, { kind: 'csv' }>;

/** A CSV file decoded whole: one entry per data row, in file order. */
export interface CsvTable {
  count: number;
  labels: Int32Array;
  /** undefined when the format has no timestamp column */
  timestamps: Float64Array | undefined;
  /** row-major, count × featureColumns.length */
  features: Float32Array;
  /** Bad rows left out (badRows 'skip'); absent when none was. */
  skipped?: SkippedRows;
}

const INTEGER = /^\s*[+-]?\d+\s*$/;
const LF = 10;
const CR = 13;

export async function readCsv(format: CsvFormat, absolute: string, relative: string, badRows: BadRows): Promise<CsvTable> {
  const bytes = await readFile(absolute);
  // Decoding would replace invalid bytes with U+FFFD, silently changing a field.
  if (!isUtf8(bytes)) throw new IngestError(relative, 'invalid UTF-8', { line: firstInvalidUtf8Line(bytes) });
  const text = bytes.toString('utf8');
  return parseCsv(format, text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, relative, badRows);
}

/** The 1-based line of the first invalid UTF-8 sequence; a multi-byte sequence never holds a line feed. */
function firstInvalidUtf8Line(bytes: Buffer): number {
  let line = 1;
  for (let from = 0; from < bytes.length; line++) {
    const lf = bytes.indexOf(LF, from);
    const end = lf < 0 ? bytes.length : lf;
    if (!isUtf8(bytes.subarray(from, end))) return line;
    from = end + 1;
  }
  return line;
}

/**
 * Parses and validates every row. A bad row (wrong number of fields, a label, timestamp or feature that does not
 * parse) rejects the file with its line number, or with badRows 'skip' is left out (see BadRowLog); a broken
 * quote or a missing column rejects the file either way.
 */
export function parseCsv(format: CsvFormat, text: string, relative: string, badRows: BadRows = 'reject'): CsvTable {
  const records = csvRecords(text, format.separator, format.quote, relative);
  let header: string[] | undefined;
  if (format.header) {
    const first = records.next();
    if (first.done) throw new IngestError(relative, 'empty file (no header)', { line: 1 });
    header = first.value.fields;
  }
  const column = (c: string | number): number => {
    if (typeof c === 'number') return c;
    const index = header!.indexOf(c);
    if (index < 0) throw new IngestError(relative, `no column named ${JSON.stringify(c)} in the header (${quotedList(header!)})`, { line: 1 });
    return index;
  };
  const named = (index: number) => columnName(header, index);
  // How a skipped row names its column: by header name when there is one.
  const key = (index: number) => header?.[index] ?? index;
  const labelColumn = column(format.labelColumn);
  const featureColumns = format.featureColumns.map(column);
  const timestampColumn = format.timestampColumn === undefined ? undefined : column(format.timestampColumn);
  const highest = Math.max(labelColumn, timestampColumn ?? 0, ...featureColumns);
  const width = featureColumns.length;

  let columns = header?.length;
  const labels: number[] = [];
  const timestamps: number[] = [];
  let features = new Float32Array(1024 * width);
  const row = new Float32Array(width);
  const log = new BadRowLog(badRows);
  let lastLine = header ? 1 : 0;
  for (const { fields, line } of records) {
    lastLine = line;
    if (columns === undefined) {
      columns = fields.length;
      if (highest >= columns) throw new IngestError(relative, `column index ${highest} is out of range (${columns} columns)`, { line });
    }
    const bad = badField(fields);
    if (bad) {
      log.note(new IngestError(relative, bad.reason, { line, column: bad.column }));
      continue;
    }
    const at = labels.length * width;
    if (at + width > features.length) {
      const grown = new Float32Array(features.length * 2);
      grown.set(features);
      features = grown;
    }
    features.set(row, at);
    labels.push(Number(fields[labelColumn]));
    if (timestampColumn !== undefined) timestamps.push(Number(fields[timestampColumn]));
  }
  if (labels.length === 0 && log.skipped.count === 0) throw new IngestError(relative, 'no data rows', { line: lastLine + 1 });
  const skipped = log.finish(labels.length);
  return {
    count: labels.length,
    labels: Int32Array.from(labels),
    timestamps: timestampColumn === undefined ? undefined : Float64Array.from(timestamps),
    features: features.slice(0, labels.length * width),
    ...(skipped && { skipped }),
  };

  /** Why the row cannot be read and the column at fault (undefined when it can), leaving its features in `row`. */
  function badField(fields: string[]): { reason: string; column?: string | number } | undefined {
    if (fields.length !== columns) return { reason: `expected ${columns} columns, found ${fields.length}` };
    const label = fields[labelColumn]!;
    if (!INTEGER.test(label)) return { reason: `label ${JSON.stringify(label)} in ${named(labelColumn)} is not an integer`, column: key(labelColumn) };
    const value = Number(label);
    const limit = format.numClasses ?? 2 ** 31;
    if (value < 0 || value >= limit) {
      const range = format.numClasses === undefined ? 'a non-negative int32' : `[0, ${format.numClasses})`;
      return { reason: `label ${value} out of range ${range}`, column: key(labelColumn) };
    }
    if (timestampColumn !== undefined) {
      const ts = fields[timestampColumn]!;
      if (!INTEGER.test(ts) || !Number.isSafeInteger(Number(ts))) {
        return { reason: `timestamp ${JSON.stringify(ts)} in ${named(timestampColumn)} is not an integer number of seconds`, column: key(timestampColumn) };
      }
    }
    for (let f = 0; f < width; f++) {
      const text = fields[featureColumns[f]!]!;
      const x = Number(text);
      if (text.trim() === '' || !Number.isFinite(x)) {
        return { reason: `feature ${JSON.stringify(text)} in ${named(featureColumns[f]!)} is not a number`, column: key(featureColumns[f]!) };
      }
      row[f] = x;
    }
    return undefined;
  }
}

/** How messages name a column: `column "distance" (2)` when the file has a header, else `column 2`. */
function columnName(header: string[] | undefined, index: number): string {
  const name = header?.[index];
  return name === undefined ? `column ${index}` : `column ${JSON.stringify(name)} (${index})`;
}

/** `"ts", "a", "label"`: a header as messages list it. */
export function quotedList(header: string[]): string {
  return header.map((h) => JSON.stringify(h)).join(', ');
}

/**
 * Splits CSV text into records with their starting line: fields may be quoted (a doubled quote
 * inside stands for one, line breaks inside are kept); LF, CRLF and CR end records; blank lines are
 * skipped.
 */
export function* csvRecords(text: string, separator: string, quote: string, relative: string): Generator<{ fields: string[]; line: number }> {
  const sep = separator.charCodeAt(0);
  const q = quote.charCodeAt(0);
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let quoted = false;
    for (;;) {
      if (text.charCodeAt(i) === q) {
        quoted = true;
        let field = '';
        for (i++; ; ) {
          const close = text.indexOf(quote, i);
          if (close < 0) throw new IngestError(relative, 'unterminated quoted field', { line: start });
          for (let k = i; k < close; k++) if (text.charCodeAt(k) === LF) line++;
          field += text.slice(i, close);
          i = close + 1;
          if (text.charCodeAt(i) !== q) break;
          field += quote;
          i++;
        }
        const next = text.charCodeAt(i);
        if (i < n && next !== sep && next !== LF && next !== CR) {
          throw new IngestError(relative, 'unexpected character after a closing quote', { line });
        }
        fields.push(field);
      } else {
        let j = i;
        for (let c = text.charCodeAt(j); j < n && c !== sep && c !== LF && c !== CR; c = text.charCodeAt(++j));
        fields.push(text.slice(i, j));
        i = j;
      }
      if (i < n && text.charCodeAt(i) === sep) i++;
      else break;
    }
    if (text.charCodeAt(i) === CR) i++;
    if (text.charCodeAt(i) === LF) i++;
    line++;
    if (quoted || fields.length > 1 || fields[0] !== '') yield { fields, line: start };
  }
}

/** Parses each file once per source (one source per loader) and serves rows from that cache. */
export function csvFeatureSource(format: CsvFormat): FeatureSource {
  const cache = new Map<number, Promise<CsvTable>>();
  const width = format.featureColumns.length;
  return {
    async read(file: StoredFile, picks, out) {
      let table = cache.get(file.fileId);
      if (!table) {
        table = (async () => {
          const { size } = await stat(file.absolute);
          if (size !== file.sizeBytes) throw new DataError(`${file.relative}: file changed since ingestion (size ${size}, was ${file.sizeBytes})`);
          // Row indexes count the rows ingestion kept: a file ingested while skipping bad rows is read the same
          // way, and one ingested under 'reject' has none to skip.
          return readCsv(format, file.absolute, file.relative, 'skip');
        })();
        cache.set(file.fileId, table);
      }
      const { features, count } = await table;
      for (let k = 0; k < picks.indexes.length; k++) {
        const index = picks.indexes[k]!;
        const row = picks.rows[k]!;
        if (index >= count) throw new DataError(`${file.relative}: row ${index} missing; file changed since ingestion`);
        out.set(features.subarray(index * width, (index + 1) * width), row * width);
      }
    },
  };
}
