import { z } from 'zod';
import { DataError } from './errors.js';
import type { Holdout } from './holdout.js';

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
    }
  | ImageFormat
  | TextFormat;

/**
 * One image per file (decoded with sharp), resized to height × width with fit 'fill' (stretched to exactly that
 * size, aspect ratio not kept, nothing cropped), scaled to [0, 1] and normalized per channel, (v - mean) / std,
 * into float32 CHW: features = channels · height · width.
 */
export interface ImageFormat {
  kind: 'image';
  channels: 1 | 3;
  height: number;
  width: number;
  /** One value per channel; defaults mean 0 and std 1 (values stay in [0, 1]). */
  mean: number[];
  std: number[];
  /** Lower-case, with the dot; only these files are samples. */
  extensions: string[];
  /**
   * folder: the image's parent folder names its class, an index into `classes` when given, else an integer.
   * sidecar: `<image><suffix>` next to the image holds the integer label.
   */
  label: { from: 'folder'; classes?: string[] } | { from: 'sidecar'; suffix: string };
  /** `<image><suffix>` holds the timestamp (integer seconds); absent → the image file's mtime. */
  timestamp?: { from: 'sidecar'; suffix: string };
  numClasses?: number;
  /**
   * false: decoded pixels are not written to `<root>/.tideline-pixels` (see formats/pixel-store.ts), so each
   * process that did not ingest an image decodes it again. Absent → stored.
   */
  pixelStore?: boolean;
}

/**
 * One sample per non-blank line: `label<sep>text`, or `label<sep>timestamp<sep>text` with `timestamp: true`
 * (absent → the file's mtime). The text is tokenized into runs of Unicode letters and digits (lower-cased
 * first with `lowercase`), each hashed with 32-bit FNV-1a over its UTF-8 bytes, masked to a non-negative
 * int32; ids beyond maxTokens are dropped, missing ones are -1. They go to Batch.categorical; features = 0.
 */
export interface TextFormat {
  kind: 'text';
  separator: string;
  timestamp: boolean;
  maxTokens: number;
  lowercase: boolean;
  numClasses?: number;
}

/** How `tide ingest` treats the dataset; the command line's --parallel and --interval override them. */
export interface IngestSettings {
  /** Files scanned at once while commits stay in path order (default 1). */
  parallel?: number;
  /** Seconds between two polls of the watcher (default 2). */
  pollSeconds?: number;
  /**
   * true: each ingest call is all or nothing, failing on its first bad file with nothing of it committed.
   * Absent or false: a bad file is quarantined (quarantine.ts) and the others are ingested.
   */
  strict?: boolean;
  /**
   * What a bad row (a feature that is not a finite number, a missing field, a label or timestamp out of place)
   * does to its file. 'reject' (default): the file is rejected whole. 'skip': the row is left out and gets no
   * key; the file's count of skipped rows and the first few are recorded (skipped-rows.ts). A file with no good
   * row is rejected either way.
   */
  badRows?: BadRows;
}

export type BadRows = 'reject' | 'skip';

export interface DatasetConfig {
  name: string;
  root: string;
  format: DatasetFormat;
  hashPartitions?: number;
  ingest?: IngestSettings;
  /** Samples held out for evaluation by every pipeline over the dataset; default DEFAULT_HOLDOUT. */
  holdout?: Holdout;
}

/** A tenth of every interval, chosen by a hash of the key with seed 0. */
export const DEFAULT_HOLDOUT: Holdout = { fraction: 0.1, seed: 0 };

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

const suffix = z.string().regex(/^\.[^/\\]+$/, { error: 'expected a file name suffix starting with "." (e.g. ".label")' });
const perChannel = (fallback: number) => z.array(z.number()).min(1).optional().transform((v) => v ?? [fallback]);

const imageFormat = z
  .strictObject({
    kind: z.literal('image'),
    channels: z.union([z.literal(1), z.literal(3)], { error: 'expected 1 or 3' }).default(3),
    height: positiveInt,
    width: positiveInt,
    mean: perChannel(0),
    std: perChannel(1),
    extensions: z
      .array(z.string().regex(/^\.[A-Za-z0-9]+$/, { error: 'expected an extension such as ".png"' }))
      .min(1, { error: 'expected at least one extension' })
      .default(['.png', '.jpg', '.jpeg'])
      .transform((list) => list.map((e) => e.toLowerCase())),
    label: z.discriminatedUnion('from', [
      z.strictObject({ from: z.literal('folder'), classes: z.array(z.string().min(1)).min(1).optional() }),
      z.strictObject({ from: z.literal('sidecar'), suffix: suffix.default('.label') }),
    ]),
    timestamp: z.strictObject({ from: z.literal('sidecar'), suffix }).optional(),
    numClasses: positiveInt.optional(),
    pixelStore: z.boolean({ error: 'expected true or false' }).optional(),
  })
  .transform((f) => ({
    ...f,
    // A single value applies to every channel.
    mean: f.mean.length === 1 ? new Array<number>(f.channels).fill(f.mean[0]!) : f.mean,
    std: f.std.length === 1 ? new Array<number>(f.channels).fill(f.std[0]!) : f.std,
    numClasses: f.numClasses ?? (f.label.from === 'folder' ? f.label.classes?.length : undefined),
  }))
  .superRefine((f, ctx) => {
    for (const key of ['mean', 'std'] as const) {
      if (f[key].length !== f.channels) ctx.addIssue({ code: 'custom', path: [key], message: `expected 1 or ${f.channels} values (one per channel)` });
    }
    f.std.forEach((s, i) => {
      if (!(s > 0)) ctx.addIssue({ code: 'custom', path: ['std', i], message: 'must be positive' });
    });
    if (f.label.from === 'folder' && f.label.classes) {
      const { classes } = f.label;
      classes.forEach((c, i) => {
        if (classes.indexOf(c) !== i) ctx.addIssue({ code: 'custom', path: ['label', 'classes', i], message: `class ${JSON.stringify(c)} is listed twice` });
      });
      if (f.numClasses !== undefined && f.numClasses < classes.length) {
        ctx.addIssue({ code: 'custom', path: ['numClasses'], message: `${f.numClasses} is fewer than the ${classes.length} classes listed` });
      }
    }
    const sidecars = [f.label.from === 'sidecar' ? f.label.suffix : undefined, f.timestamp?.suffix];
    if (sidecars[0] !== undefined && sidecars[0] === sidecars[1]) ctx.addIssue({ code: 'custom', path: ['timestamp', 'suffix'], message: 'must differ from label.suffix' });
    for (const [path, s] of [[['label', 'suffix'], sidecars[0]], [['timestamp', 'suffix'], sidecars[1]]] as const) {
      if (s !== undefined && f.extensions.some((e) => s.toLowerCase().endsWith(e))) {
        ctx.addIssue({ code: 'custom', path: [...path], message: `ends with an image extension, so sidecars would be taken for images` });
      }
    }
  });

const textFormat = z
  .strictObject({
    kind: z.literal('text'),
    separator: oneChar.default('\t'),
    timestamp: z.boolean().default(false),
    maxTokens: positiveInt.max(4096, { error: 'expected at most 4096' }).default(64),
    lowercase: z.boolean().default(true),
    numClasses: positiveInt.optional(),
  })
  .superRefine((f, ctx) => {
    if (f.separator === '\n' || f.separator === '\r') ctx.addIssue({ code: 'custom', path: ['separator'], message: 'must not be a line break' });
  });

const datasetConfig = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'expected 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit',
  }),
  root: z.string().min(1, { error: 'expected a directory path' }),
  format: z.discriminatedUnion('kind', [binaryFormat, csvFormat, imageFormat, textFormat]),
  hashPartitions: z.int({ error: 'expected an integer in 1..64' }).min(1).max(64, { error: 'expected an integer in 1..64' }).optional(),
  ingest: z
    .strictObject({
      parallel: z.int({ error: 'expected an integer in 1..64' }).min(1).max(64, { error: 'expected an integer in 1..64' }).optional(),
      pollSeconds: z.number({ error: 'expected a positive number of seconds' }).positive({ error: 'expected a positive number of seconds' }).optional(),
      strict: z.boolean({ error: 'expected true or false' }).optional(),
      badRows: z.enum(['reject', 'skip'], { error: 'expected "reject" or "skip"' }).optional(),
    })
    .optional(),
  holdout: z
    .strictObject({
      fraction: z.number({ error: 'expected a fraction in [0, 1)' }).min(0).lt(1, { error: 'expected a fraction in [0, 1)' }),
      seed: z.int({ error: 'expected a non-negative integer' }).min(0, { error: 'expected a non-negative integer' }).default(0),
    })
    .optional(),
});

/**
 * Validates a dataset config, filling format defaults (little-endian; CSV: ",", header, '"'; image: 3 channels,
 * mean 0, std 1, .png .jpg .jpeg; text: tab, no timestamp field, 64 tokens, lower-cased).
 */
export function parseDatasetConfig(input: unknown): DatasetConfig {
  const result = datasetConfig.safeParse(expandPreset(input));
  if (!result.success) {
    throw new DataError(`invalid dataset config: ${result.error.issues.map((i) => `${issuePath(i.path)}: ${i.message}`).join('; ')}`);
  }
  return result.data;
}

export function featureCount(format: DatasetFormat): number {
  switch (format.kind) {
    case 'binary':
      return format.features.count;
    case 'csv':
      return format.featureColumns.length;
    case 'image':
      return format.channels * format.height * format.width;
    case 'text':
      return 0;
  }
}

/** Categorical ids per sample (0 when the format has none); a text sample's token ids. */
export function categoricalCount(format: DatasetFormat): number {
  switch (format.kind) {
    case 'binary':
      return format.categorical?.count ?? 0;
    case 'text':
      return format.maxTokens;
    default:
      return 0;
  }
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
