import pg from 'pg';

const INT8_OID = 20;

/**
 * int8 columns (keys, timestamps, counts) come back as numbers rather than strings. Keys and
 * second-resolution timestamps stay far below 2^53, so Number is exact. The parser is installed
 * per pool, not globally, so other pg users in the process keep the default behaviour.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format),
};

export function createPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 8, idleTimeoutMillis: 30_000, types });
  // An idle client losing its connection (server restart) must not crash the process; the next
  // query on a fresh client reports the problem instead.
  pool.on('error', () => {});
  // Nor a checked-out one (a transaction, a COPY, a cursor): besides failing its queries, which the caller
  // handles, it emits 'error', and with no listener that ends the process. The pool drops it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}
