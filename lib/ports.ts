import { type AddressInfo, createConnection, createServer } from 'node:net';

/** True when something accepts TCP connections at host:port within the timeout. */
export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolveProbe(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * `preferred` when it is free on 127.0.0.1, otherwise a free port the OS picks and holds back from its
 * next picks: a connection to it, closed from the listening side, stays in TIME_WAIT for a minute, and
 * while it does Linux gives the port to no bind(0) (the dev server picks a dozen ports of its own that
 * way after this one), yet a server binding it by number (with SO_REUSEADDR, as Node, Go and PostgreSQL
 * do) gets it.
 */
export function freePort(preferred = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer((accepted) => accepted.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (preferred !== 0 && err.code === 'EADDRINUSE') freePort(0).then(resolvePort, reject);
      else reject(err);
    });
    server.listen(preferred, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      if (preferred !== 0) return server.close(() => resolvePort(port));
      const client = createConnection({ host: '127.0.0.1', port });
      client.once('error', (err) => server.close(() => reject(err)));
      client.once('close', () => server.close(() => resolvePort(port)));
    });
  });
}

export function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  if (at < 0) throw new Error(`"${address}" is not a host:port address`);
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}
