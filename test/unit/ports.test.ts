import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/ports.js';

/** Local ports of 127.0.0.1 sockets in TIME_WAIT, read from the kernel's table. */
function timeWaitPorts(): Set<number> {
  const ports = new Set<number>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state === '06' && local?.startsWith('0100007F:')) ports.add(parseInt(local.split(':')[1]!, 16));
  }
  return ports;
}

function listenOn(port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => server.close(() => resolveListen()));
  });
}

describe('free ports', () => {
  it('a port the OS picks is held in TIME_WAIT, away from the next bind(0)s, yet a server can bind it by number', async () => {
    const port = await freePort();
    assert.ok(timeWaitPorts().has(port), `port ${port} in TIME_WAIT`);
    await listenOn(port);
  });

  it('a preferred port that is free is given back as is, a taken one is replaced', async () => {
    const port = await freePort();
    assert.equal(await freePort(port), port);
    const holder = createServer();
    await new Promise<void>((resolveListen) => holder.listen(port, '127.0.0.1', resolveListen));
    try {
      assert.notEqual(await freePort(port), port);
    } finally {
      holder.close();
    }
  });
});
