/** A caller or configuration problem: unknown dataset, a path outside the dataset root, a bad config. */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * A file that cannot be ingested, rejected whole. `file` is the path relative to the dataset root;
 * `offset` (binary, bytes) or `line` (CSV and text, 1-based) locates the problem, and `column` names the field
 * at fault when one is (a CSV header name or 0-based index; `label`, `timestamp`, `feature[2]` ...).
 */
export class IngestError extends Error {
  override name = 'IngestError';
  readonly file: string;
  readonly reason: string;
  /** The message without the file: where in it, then the reason. */
  readonly detail: string;
  readonly offset?: number;
  readonly line?: number;
  readonly column?: string | number;

  constructor(file: string, reason: string, where: { offset?: number; line?: number; column?: string | number } = {}) {
    const at = where.offset !== undefined ? `byte ${where.offset}: ` : where.line !== undefined ? `line ${where.line}: ` : '';
    super(`${file}: ${at}${reason}`);
    this.file = file;
    this.reason = reason;
    this.detail = `${at}${reason}`;
    if (where.offset !== undefined) this.offset = where.offset;
    if (where.line !== undefined) this.line = where.line;
    if (where.column !== undefined) this.column = where.column;
  }
}
