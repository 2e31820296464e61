/**
 * Query results read through `COPY (query) TO STDOUT (FORMAT binary)` straight into typed columns. Unlike a
 * plain query, no JS object is created per row and every socket chunk is decoded as it arrives, so reading
 * a page of tens of thousands of keys never holds the event loop for more than a fraction of a millisecond
 * at a time and leaves almost nothing for the garbage collector.
 */
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { COPY_SIGNATURE, TWO_32 } from './copy-binary.js';

/** Wire types read, each into its own typed array (int8 as a double: exact up to 2^53). */
export type CopyOutType = 'int4' | 'int8' | 'float4';
export type CopyOutColumn = Int32Array | Float64Array | Float32Array;
export type CopyOutColumns<T extends readonly CopyOutType[]> = { [K in keyof T]: T[K] extends 'int4' ? Int32Array : T[K] extends 'int8' ? Float64Array : Float32Array };

const WIDTH: Record<CopyOutType, number> = { int4: 4, int8: 8, float4: 4 };

/**
 * Runs `query` (a SELECT with its values inlined: COPY takes no parameters) on `db` and returns its first `capacity`
 * rows, column by column, and the row count. A column whose wire type is not the declared one, or a NULL,
 * fails with the column's position.
 */
export async function copyOut<const T extends readonly CopyOutType[]>(
  db: pg.Pool | pg.PoolClient, query: string, types: T, capacity: number,
): Promise<{ length: number; columns: CopyOutColumns<T> }> {
  const decoder = new BinaryCopyDecoder(types, capacity);
  // A client given is used as is (e.g. inside a transaction whose SET LOCAL the query needs); a pool lends one.
  const client = 'release' in db ? db : await db.connect();
  try {
    for await (const chunk of client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`))) decoder.push(chunk as Buffer);
  } finally {
    if (client !== db) client.release();
  }
  return { length: decoder.finish(), columns: decoder.columns as CopyOutColumns<T> };
}

/** Streaming decoder of the binary COPY format for fixed-width, non-null columns. */
export class BinaryCopyDecoder {
  readonly columns: CopyOutColumn[];
  /** Bytes of one row: its field count, then each field's length and value. */
  private readonly tupleBytes: number;
  private rows = 0;
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private ended = false;

  constructor(private readonly types: readonly CopyOutType[], private readonly capacity: number) {
    this.tupleBytes = 2 + types.reduce((n, t) => n + 4 + WIDTH[t], 0);
    this.columns = types.map((type) => (type === 'int4' ? new Int32Array(capacity) : type === 'int8' ? new Float64Array(capacity) : new Float32Array(capacity)));
  }

  push(chunk: Buffer): void {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let at = 0;
    if (!this.headerRead) {
      if (data.length < COPY_SIGNATURE.length + 8) return void (this.pending = data);
      if (!data.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE)) throw new Error('COPY output is not in binary format');
      at = COPY_SIGNATURE.length + 8 + view.getUint32(COPY_SIGNATURE.length + 4);
      this.headerRead = true;
    }
    const fields = this.types.length;
    while (!this.ended && at + 2 <= data.length) {
      const count = view.getInt16(at);
      if (count === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (count !== fields) throw new Error(`COPY row has ${count} columns, expected ${fields}`);
      if (at + this.tupleBytes > data.length) break;
      if (this.rows === this.capacity) throw new Error(`COPY returned more than ${this.capacity} rows`);
      let field = at + 2;
      for (let c = 0; c < fields; c++) {
        const type = this.types[c]!;
        const length = view.getInt32(field);
        if (length !== WIDTH[type]) throw new Error(`COPY column ${c + 1}: expected ${type}, got ${length === -1 ? 'NULL' : `${length} bytes`}`);
        const column = this.columns[c]!;
        if (type === 'int4') column[this.rows] = view.getInt32(field + 4);
        else if (type === 'float4') column[this.rows] = view.getFloat32(field + 4);
        else column[this.rows] = view.getInt32(field + 4) * TWO_32 + view.getUint32(field + 8);
        field += 4 + length;
      }
      this.rows++;
      at += this.tupleBytes;
    }
    this.pending = data.subarray(at);
  }

  /** The row count; throws if the stream stopped before its trailer. */
  finish(): number {
    if (!this.ended) throw new Error('COPY output ended before its trailer');
    return this.rows;
  }
}
