import type pg from 'pg';
import type { BadRows } from './dataset-config.js';
import { IngestError } from './errors.js';

/**
 * A row (CSV data row, text line, binary record) left out of an ingested file under `ingest.badRows: 'skip'`.
 * `line` (CSV, text; 1-based) or `record` (binary; 0-based) locates it; `column` names the field at fault
 * (a CSV header name, else its 0-based index; `label`, `timestamp`, `feature[3]` ...) when one is.
 */
export interface SkippedRow {
  line?: number;
  record?: number;
  column?: string | number;
  reason: string;
}

/** How many rows of a file were skipped, and the first of them. */
export interface SkippedRows {
  count: number;
  examples: SkippedRow[];
}

/** Examples kept per file: enough to see what is wrong, without a row per bad row. */
export const SKIPPED_EXAMPLES = 5;

/**
 * The bad rows of one file as a scan meets them: under 'reject' the first rejects the file (today's behaviour);
 * under 'skip' each is counted and the first few are kept, and the scan goes on without it.
 */
export class BadRowLog {
  readonly skipped: SkippedRows = { count: 0, examples: [] };
  private first: IngestError | undefined;

  constructor(private readonly mode: BadRows) {}

  /** Throws `error` under 'reject'; else notes the row it locates (a binary one by its `record` index). */
  note(error: IngestError, record?: number): void {
    if (this.mode === 'reject') throw error;
    this.first ??= error;
    this.skipped.count++;
    if (this.skipped.examples.length < SKIPPED_EXAMPLES) {
      this.skipped.examples.push({
        ...(error.line !== undefined && { line: error.line }),
        ...(record !== undefined && { record }),
        ...(error.column !== undefined && { column: error.column }),
        reason: error.reason,
      });
    }
  }

  /**
   * The rows skipped once the file is read, undefined when none was. A file without one good row is rejected
   * as under 'reject', with its first bad row's error: there is nothing of it to ingest.
   */
  finish(kept: number): SkippedRows | undefined {
    if (this.first && kept === 0) {
      const { file, reason, line, offset, column } = this.first;
      throw new IngestError(file, `${reason} (every one of its ${this.skipped.count} rows is bad)`, { line, offset, column });
    }
    return this.skipped.count === 0 ? undefined : this.skipped;
  }
}

/** `line 3, column "distance": feature "NA" ...`: one skipped row as messages show it. */
export function describeSkippedRow(row: SkippedRow): string {
  const where = row.line !== undefined ? `line ${row.line}` : `record ${row.record}`;
  const column = row.column === undefined ? '' : `, column ${JSON.stringify(row.column)}`;
  return `${where}${column}: ${row.reason}`;
}

/** An ingested file that had rows skipped. */
export interface FileWithSkippedRows extends SkippedRows {
  path: string;
}

/** The dataset's ingested files that had rows skipped, by path. */
export async function filesWithSkippedRows(pool: pg.Pool, datasetId: number): Promise<FileWithSkippedRows[]> {
  const { rows } = await pool.query<{ path: string; skipped_rows: number; skipped_examples: SkippedRow[] | null }>(
    'SELECT path, skipped_rows, skipped_examples FROM files WHERE dataset_id = $1 AND skipped_rows > 0 ORDER BY path',
    [datasetId],
  );
  return rows.map((r) => ({ path: r.path, count: r.skipped_rows, examples: r.skipped_examples ?? [] }));
}
