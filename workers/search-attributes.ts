import { Connection, isGrpcServiceError } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../lib/stack/temporal-dev-server.js';

/** IndexedValueType KEYWORD and gRPC ALREADY_EXISTS, from Temporal's API. */
const KEYWORD = 2;
const ALREADY_EXISTS = 6;

/**
 * Checks that Tideline's search attributes are registered on `namespace` of a cluster Tideline did not
 * start (the dev server gets them as flags) and registers the missing ones. Throws, naming the attribute
 * and the fix, when one has another type or the server refuses to register it (e.g. no operator rights).
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const registered = customAttributes ?? {};
  const missing: string[] = [];
  for (const name of Object.keys(SEARCH_ATTRIBUTES)) {
    const type = registered[name];
    if (type === undefined || type === null) missing.push(name);
    else if (type !== KEYWORD) {
      throw new Error(
        `search attribute ${name} on namespace ${namespace} has index type ${type}, not Keyword (${KEYWORD}) as Tideline needs; `
          + `remove it (temporal operator search-attribute remove --name ${name} --namespace ${namespace}) and start again`,
      );
    }
  }
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
    });
  } catch (err) {
    // Another worker registered them between the list and the add.
    if (isGrpcServiceError(err) && err.code === ALREADY_EXISTS) return;
    const adds = missing.map((name) => `temporal operator search-attribute create --name ${name} --type Keyword --namespace ${namespace}`);
    throw new Error(
      `search attribute${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not registered on namespace `
        + `${namespace} and registering ${missing.length > 1 ? 'them' : 'it'} failed (${(err as Error).message}); `
        + `have an operator run: ${adds.join('; ')}`,
      { cause: err },
    );
  }
}
