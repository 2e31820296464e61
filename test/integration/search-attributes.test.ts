import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from '../../lib/stack/temporal-cli.js';
import { type DevServer, SEARCH_ATTRIBUTES, startTemporalDevServer } from '../../lib/stack/temporal-dev-server.js';
import { registerSearchAttributes } from '../../workers/search-attributes.js';

describe('search attributes on a server Tideline did not start (real dev server)', () => {
  let server: DevServer;
  let connection: Connection;

  before(async () => {
    const cli = await ensureTemporalCli((line) => console.log(line));
    server = await startTemporalDevServer({ cli, uiPort: false, searchAttributes: false });
    connection = await Connection.connect({ address: server.address });
  });

  after(async () => {
    await connection?.close();
    await server?.stop();
  });

  async function registered(): Promise<Record<string, unknown>> {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return customAttributes ?? {};
  }

  it('registers the missing attributes as Keyword, and is a no-op once they are there', async () => {
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.equal((await registered())[name], undefined, `${name} starts missing`);
    await registerSearchAttributes(connection, 'default');
    for (const name of Object.keys(SEARCH_ATTRIBUTES)) assert.equal((await registered())[name], 2, `${name} is Keyword`);
    await registerSearchAttributes(connection, 'default');
  });

  it('fails naming the namespace when it does not exist', async () => {
    await assert.rejects(registerSearchAttributes(connection, 'no-such-namespace'), /no-such-namespace/);
  });
});
