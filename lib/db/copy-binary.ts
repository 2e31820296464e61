/**
 * Encoder for PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`), the fastest
 * way to load rows from Node. Only the fixed-width integer types the schema needs; each column's
 * wire type must match the table column exactly, or the whole COPY fails. Columns are data (a constant,
 * a running sequence or a typed array), not callbacks, so encoding is a tight loop that allocates
 * nothing per value.
 */
export type CopyColumn =
  | { type: 'int4' | 'int8'; constant: number }
  /** sequenceFrom, sequenceFrom + 1, ... */
  | { type: 'int4' | 'int8'; sequenceFrom: number }
  | { type: 'int4'; values: Int32Array }
  | { type: 'int8'; values: Float64Array };

const WIDTH = { int4: 4, int8: 8 } as const;
export const TWO_32 = 4294967296;
/** The first bytes of every binary COPY stream: "PGCOPY\n\377\r\n\0". */
export const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
// The signature, then a zero flags field and a zero-length header extension.
const HEADER = Buffer.concat([COPY_SIGNATURE, Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Yields the COPY stream in chunks of `rowsPerChunk` rows, header first and trailer last, so a large
 * file never sits encoded in memory at once and the event loop gets breaks between chunks.
 */
export function* encodeBinaryCopy(columns: CopyColumn[], rowCount: number, rowsPerChunk = 16384): Generator<Buffer> {
  for (const [c, column] of columns.entries()) {
    if ('values' in column && column.values.length < rowCount) throw new Error(`COPY column ${c + 1} has ${column.values.length} values for ${rowCount} rows`);
  }
  yield HEADER;
  const rowBytes = 2 + columns.reduce((n, c) => n + 4 + WIDTH[c.type], 0);
  for (let start = 0; start < rowCount; start += rowsPerChunk) {
    const end = Math.min(rowCount, start + rowsPerChunk);
    const chunk = Buffer.allocUnsafe((end - start) * rowBytes);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let row = start, at = 0; row < end; row++) {
      view.setInt16(at, columns.length);
      at += 2;
      for (const column of columns) {
        const v = 'constant' in column ? column.constant : 'sequenceFrom' in column ? column.sequenceFrom + row : column.values[row]!;
        if (column.type === 'int4') {
          view.setInt32(at, 4);
          view.setInt32(at + 4, v);
          at += 8;
        } else {
          // Split into high and low words: exact for every safe integer, negatives included.
          const high = Math.floor(v / TWO_32);
          view.setInt32(at, 8);
          view.setInt32(at + 4, high);
          view.setUint32(at + 8, v - high * TWO_32);
          at += 12;
        }
      }
    }
    yield chunk;
  }
  yield TRAILER;
}
