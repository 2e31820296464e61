import { createConnection, createServer } from 'node:net';

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

/** `preferred` when it is free on 127.0.0.1, otherwise a free port the OS picks. */
export function freePort(preferred = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (preferred !== 0 && err.code === 'EADDRINUSE') freePort(0).then(resolvePort, reject);
      else reject(err);
    });
    server.listen(preferred, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : preferred));
    });
  });
}

export function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  if (at < 0) throw new Error(`"${address}" is not a host:port address`);
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}
