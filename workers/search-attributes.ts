import { Connection, isGrpcServiceError } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../lib/stack/temporal-dev-server.js';

/** IndexedValueType KEYWORD and gRPC ALREADY_EXISTS, from Temporal's API. */
const KEYWORD = 2;
const ALREADY_EXISTS = 6;

/** Registers Tideline's search attributes on a cluster Tideline did not start (the dev server gets them as flags). */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const searchAttributes = Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((name) => [name, KEYWORD]));
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    if (!(isGrpcServiceError(err) && err.code === ALREADY_EXISTS)) throw err;
  }
}
