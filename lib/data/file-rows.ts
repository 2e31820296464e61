import type pg from 'pg';
import { prefetch } from './prefetch.js';

/** A file's row in `files`. */
export interface FileRow {
  path: string;
  size_bytes: number;
}

/**
 * The rows in `files` of the files a loader reads, looked up a set of files at a time and kept (a file's row does not
 * change once it is ingested): the epochs of one training run (trainingEpochs) share them, so only the first epoch
 * looks its files up.
 */
export class FileRows {
  /** Each file looked up so far (undefined: not registered). */
  private readonly rows = new Map<number, FileRow | undefined>();
  /** Lookups under way, by file. */
  private readonly lookups = new Map<number, Promise<void>>();

  constructor(private readonly pool: pg.Pool, private readonly datasetId: number) {}

  /** Starts the lookup of those of these files not looked up yet, all in one query. */
  lookUp(fileIds: Iterable<number>): void {
    const missing = new Set<number>();
    for (const fileId of fileIds) if (!this.rows.has(fileId) && !this.lookups.has(fileId)) missing.add(fileId);
    if (missing.size === 0) return;
    const lookup = prefetch(this.pool
      .query<FileRow & { file_id: number }>(
        'SELECT file_id, path, size_bytes FROM files WHERE file_id = ANY($1::bigint[]) AND dataset_id = $2',
        [[...missing], this.datasetId],
      )
      .then(({ rows }) => {
        const found = new Map(rows.map((row) => [row.file_id, row]));
        for (const fileId of missing) {
          this.rows.set(fileId, found.get(fileId));
          this.lookups.delete(fileId);
        }
      }));
    for (const fileId of missing) this.lookups.set(fileId, lookup);
  }

  /** Settles when the lookups of these files (started with lookUp) are done. */
  async ready(fileIds: Iterable<number>): Promise<void> {
    const pending = new Set<Promise<void>>();
    for (const fileId of fileIds) {
      const lookup = this.lookups.get(fileId);
      if (lookup) pending.add(lookup);
    }
    await Promise.all(pending);
  }

  /** A looked-up file's row; undefined when the dataset has no such file. */
  get(fileId: number): FileRow | undefined {
    return this.rows.get(fileId);
  }
}
