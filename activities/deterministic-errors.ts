import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import pg from 'pg';
import type { NonRetryableType } from '../policies/failure-types.js';
import { DataError, IngestError } from '../lib/data/errors.js';
import { configurationError } from './failures.js';

/**
 * Failures that end the same way on every attempt, classified once for every activity (invariant 7): a value
 * out of range or an allocation that cannot succeed (a RangeError, also one a session worker thread reported by
 * message), a graph ONNX Runtime refuses, a file that is missing or not what its path says, and a query
 * PostgreSQL refuses for its data or text. Everything else (a lost connection, a dead worker, a restarting
 * database) is left to the bounded retry policy.
 */
const DETERMINISTIC_MESSAGES = [
  /Array buffer allocation failed/i,
  /Invalid (typed )?array length/i,
  /out of memory for (typed )?array/i,
  // ONNX Runtime refusing a graph at session creation, or its feeds at a run.
  /Failed to load model|protobuf parsing failed|invalid model|INVALID_GRAPH|ShapeInferenceError|Got invalid dimensions/i,
];
/** A missing input file, or a path whose kind (file, folder) is not what the code expects. */
const FILE_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);
/** PostgreSQL classes 22 (data exception) and 42 (syntax error or access rule violation). */
const SQL_CLASSES = ['22', '42'];

/** Why `err` fails every attempt, or undefined when another attempt might succeed. */
export function deterministicCause(err: unknown): string | undefined {
  if (!(err instanceof Error) || err instanceof TemporalFailure) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  if (err instanceof RangeError || code === 'ERR_OUT_OF_RANGE') return `${err.name}: ${err.message}`;
  if (code !== undefined && FILE_CODES.has(code)) return err.message;
  if (err instanceof pg.DatabaseError && SQL_CLASSES.includes(err.code?.slice(0, 2) ?? '')) return `PostgreSQL ${err.code}: ${err.message}`;
  if (DETERMINISTIC_MESSAGES.some((pattern) => pattern.test(err.message))) return err.message;
  return undefined;
}

/**
 * `err` as the activity should throw it: data and ingest errors as 'InvalidData', other deterministic failures
 * as non-retryable `type` naming `what` failed (e.g. "trigger 3: training") and the cause; anything else,
 * Temporal failures included, unchanged.
 */
export function asActivityFailure(err: unknown, type: NonRetryableType, what: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof IngestError || err instanceof DataError) return configurationError('InvalidData', `${what}: ${err.message}`);
  const cause = deterministicCause(err);
  return cause === undefined ? err : configurationError(type, `${what}: ${cause} (a deterministic failure: not retried)`);
}
