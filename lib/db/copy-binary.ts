/**
 * Encoder for PostgreSQL's binary COPY format (`COPY ... FROM STDIN (FORMAT binary)`), the fastest
 * way to load rows from Node. Only the fixed-width integer types the schema needs; each column's
 * wire type must match the table column exactly, or the whole COPY fails.
 */
export interface CopyColumn {
  type: 'int4' | 'int8';
  value: (row: number) => number;
}

const WIDTH = { int4: 4, int8: 8 } as const;
const TWO_32 = 4294967296;
// Signature "PGCOPY\n\377\r\n\0", then a zero flags field and a zero-length header extension.
const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
const TRAILER = Buffer.from([0xff, 0xff]);

/**
 * Yields the COPY stream in chunks of `rowsPerChunk` rows, header first and trailer last, so a large
 * file never sits encoded in memory at once and the event loop gets breaks between chunks.
 */
export function* encodeBinaryCopy(columns: CopyColumn[], rowCount: number, rowsPerChunk = 16384): Generator<Buffer> {
  yield HEADER;
  const rowBytes = 2 + columns.reduce((n, c) => n + 4 + WIDTH[c.type], 0);
  for (let start = 0; start < rowCount; start += rowsPerChunk) {
    const end = Math.min(rowCount, start + rowsPerChunk);
    const chunk = Buffer.allocUnsafe((end - start) * rowBytes);
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    for (let row = start; row < end; row++) {
      view.setInt16(at, columns.length);
      at += 2;
      for (const column of columns) {
        const v = column.value(row);
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
