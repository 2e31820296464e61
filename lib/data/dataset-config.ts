import { z } from 'zod';
import { DataError } from './errors.js';

export type DatasetFormat =
  | {
      kind: 'binary';
      recordSize: number;
      byteOrder: 'little' | 'big';
      label: { offset: number; type: 'uint8' | 'int32' | 'int64' };
      /**
       * Dense features, contiguous. `type` absent means float32. `transform: 'log1p'` maps each
       * value v to log1p(max(v, 0)) (negatives clamp to 0, as in the usual Criteo preprocessing).
       */
      features: { offset: number; count: number; type?: 'float32' | 'int32'; transform?: 'log1p' };
      /**
       * Categorical ids, contiguous, decoded into Batch.categorical as int32. int64 values outside
       * the int32 range reject the file at ingestion.
       */
      categorical?: { offset: number; count: number; type: 'int32' | 'int64' };
      /** absent → every record gets the file's mtime (seconds) */
      timestamp?: { offset: number; type: 'int32' | 'int64' | 'float64' };
      numClasses?: number;
    }
  | {
      kind: 'csv';
      separator: string;
      header: boolean;
      quote: string;
      /** names need header: true; numbers are 0-based indexes */
      labelColumn: string | number;
      featureColumns: (string | number)[];
      timestampColumn?: string | number;
      numClasses?: number;
    };

/** How `tide ingest` treats the dataset; the command line's --parallel and --interval override them. */
export interface IngestSettings {
  /** Files scanned at once while commits stay in path order (default 1). */
  parallel?: number;
  /** Seconds between two polls of the watcher (default 2). */
  pollSeconds?: number;
}

export interface DatasetConfig {
  name: string;
  root: string;
  format: DatasetFormat;
  hashPartitions?: number;
  ingest?: IngestSettings;
}

const POSITIVE = 'expected a positive integer';
const NON_NEGATIVE = 'expected a non-negative integer';
const positiveInt = z.int({ error: POSITIVE }).min(1, { error: POSITIVE });
const offset = z.int({ error: NON_NEGATIVE }).min(0, { error: NON_NEGATIVE });
const column = z.union([z.string().min(1), offset], { error: 'expected a column name or a 0-based index' });
const oneChar = z.string().length(1, { error: 'expected a single character' });

const LABEL_BYTES = { uint8: 1, int32: 4, int64: 8 } as const;
const TIMESTAMP_BYTES = { int32: 4, int64: 8, float64: 8 } as const;
const CATEGORICAL_BYTES = { int32: 4, int64: 8 } as const;

type BinaryFormat = Extract<DatasetFormat, { kind: 'binary' }>;

/**
 * Named formats: `format: { preset: 'criteo' }` expands to the entry here (and is stored expanded).
 * criteo: 160-byte little-endian records of 40 int32 — label (0/1), 13 dense counts decoded with
 * log1p, 26 hashed categorical ids — with no timestamp field (records get the file's mtime).
 */
export const FORMAT_PRESETS: Readonly<Record<'criteo', BinaryFormat>> = {
  criteo: {
    kind: 'binary',
    recordSize: 160,
    byteOrder: 'little',
    label: { offset: 0, type: 'int32' },
    features: { offset: 4, count: 13, type: 'int32', transform: 'log1p' },
    categorical: { offset: 56, count: 26, type: 'int32' },
    numClasses: 2,
  },
};

const binaryFormat = z
  .strictObject({
    kind: z.literal('binary'),
    recordSize: positiveInt,
    byteOrder: z.enum(['little', 'big']).default('little'),
    label: z.strictObject({ offset, type: z.enum(['uint8', 'int32', 'int64']) }),
    // type and transform have no default, so formats stored before they existed compare equal.
    features: z.strictObject({ offset, count: positiveInt, type: z.enum(['float32', 'int32']).optional(), transform: z.literal('log1p').optional() }),
    categorical: z.strictObject({ offset, count: positiveInt, type: z.enum(['int32', 'int64']) }).optional(),
    timestamp: z.strictObject({ offset, type: z.enum(['int32', 'int64', 'float64']) }).optional(),
    numClasses: positiveInt.optional(),
  })
  .superRefine((f, ctx) => {
    const fields: [string, number, number][] = [
      ['label', f.label.offset, LABEL_BYTES[f.label.type]],
      ['features', f.features.offset, 4 * f.features.count],
    ];
    if (f.categorical) fields.push(['categorical', f.categorical.offset, CATEGORICAL_BYTES[f.categorical.type] * f.categorical.count]);
    if (f.timestamp) fields.push(['timestamp', f.timestamp.offset, TIMESTAMP_BYTES[f.timestamp.type]]);
    for (const [name, start, bytes] of fields) {
      if (start + bytes > f.recordSize) {
        ctx.addIssue({ code: 'custom', path: [name], message: `bytes ${start}..${start + bytes} exceed recordSize ${f.recordSize}` });
      }
    }
    for (let i = 0; i < fields.length; i++) {
      for (let j = i + 1; j < fields.length; j++) {
        const [a, aStart, aBytes] = fields[i]!;
        const [b, bStart, bBytes] = fields[j]!;
        if (aStart < bStart + bBytes && bStart < aStart + aBytes) {
          ctx.addIssue({ code: 'custom', path: [b], message: `overlaps ${a}` });
        }
      }
    }
  });

const csvFormat = z
  .strictObject({
    kind: z.literal('csv'),
    separator: oneChar.default(','),
    header: z.boolean().default(true),
    quote: oneChar.default('"'),
    labelColumn: column,
    featureColumns: z.array(column).min(1, { error: 'expected at least one column' }),
    timestampColumn: column.optional(),
    numClasses: positiveInt.optional(),
  })
  .superRefine((f, ctx) => {
    if (f.separator === f.quote) ctx.addIssue({ code: 'custom', path: ['quote'], message: 'must differ from separator' });
    for (const key of ['separator', 'quote'] as const) {
      if (f[key] === '\n' || f[key] === '\r') ctx.addIssue({ code: 'custom', path: [key], message: 'must not be a line break' });
    }
    const named: [(string | number)[], unknown][] = [
      [['labelColumn'], f.labelColumn],
      ...f.featureColumns.map((c, i): [(string | number)[], unknown] => [['featureColumns', i], c]),
      [['timestampColumn'], f.timestampColumn],
    ];
    const seen = new Set<unknown>();
    for (const [path, c] of named) {
      if (c === undefined) continue;
      if (typeof c === 'string' && !f.header) ctx.addIssue({ code: 'custom', path, message: 'column names need header: true' });
      if (seen.has(c)) ctx.addIssue({ code: 'custom', path, message: `column ${JSON.stringify(c)} is used twice` });
      seen.add(c);
    }
  });

const datasetConfig = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'expected 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
  }),
  root: z.string().min(1, { error: 'expected a directory path' }),
  format: z.discriminatedUnion('kind', [binaryFormat, csvFormat]),
  hashPartitions: z.int({ error: 'expected an integer in 1..64' }).min(1).max(64, { error: 'expected an integer in 1..64' }).optional(),
  ingest: z
    .strictObject({
      parallel: z.int({ error: 'expected an integer in 1..64' }).min(1).max(64, { error: 'expected an integer in 1..64' }).optional(),
      pollSeconds: z.number({ error: 'expected a positive number of seconds' }).positive({ error: 'expected a positive number of seconds' }).optional(),
    })
    .optional(),
});

/** Validates a dataset config, filling format defaults (little-endian; CSV: ",", header, '"'). */
export function parseDatasetConfig(input: unknown): DatasetConfig {
  const result = datasetConfig.safeParse(expandPreset(input));
  if (!result.success) {
    throw new DataError(`invalid dataset config: ${result.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

export function featureCount(format: DatasetFormat): number {
  return format.kind === 'binary' ? format.features.count : format.featureColumns.length;
}

/** Categorical ids per sample (0 when the format has none). */
export function categoricalCount(format: DatasetFormat): number {
  return format.kind === 'binary' ? (format.categorical?.count ?? 0) : 0;
}

/** Replaces `format: { preset }` by the preset's format; anything else passes through unchanged. */
function expandPreset(input: unknown): unknown {
  if (!isObject(input) || !isObject(input.format) || !('preset' in input.format)) return input;
  const { preset, ...rest } = input.format;
  const extra = Object.keys(rest);
  if (typeof preset !== 'string' || !Object.hasOwn(FORMAT_PRESETS, preset)) {
    throw new DataError(`invalid dataset config: format.preset: expected one of ${Object.keys(FORMAT_PRESETS).map((p) => JSON.stringify(p)).join(', ')}`);
  }
  if (extra.length > 0) {
    throw new DataError(`invalid dataset config: format: a preset takes no other keys (got ${extra.map((k) => JSON.stringify(k)).join(', ')})`);
  }
  return { ...input, format: structuredClone(FORMAT_PRESETS[preset as keyof typeof FORMAT_PRESETS]) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ['format', 'featureColumns', 2] → "format.featureColumns[2]" */
function issuePath(path: PropertyKey[]): string {
  if (path.length === 0) return '(config)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
