/** Messages between SessionHost (main thread) and session-worker. Everything here is structured-cloneable. */
import type { InferenceSession } from 'onnxruntime-node';
import type { HostIdSource, TableUpdateMode } from './autodiff/tape.js';
import type { TableRule } from './session-host-tables.js';

export type TensorType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';
export type TensorArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export interface TensorData { type: TensorType; dims: number[]; data: TensorArray }

/** A feed is either a tensor sent with the request or the name of a tensor kept in the worker's store. */
export type Feed = TensorData | { stored: string };

export type SessionOptions = InferenceSession.SessionOptions;

/**
 * A table kept in the worker that a run gathers from and, unless gather-only, updates (wasm-table.ts): before the run,
 * the rows of the ids in feed `ids` (int64 [B, width], sent with the request) are fed as input `rows`; after it, output
 * `grad` (the rows' gradient) updates the table and its optimizer `states` by `rule`, every row (`update: 'dense'`) or
 * the touched ones (`'lazy'`), with the step's learning rate and 1-based step read from the scalar feeds `lr` and
 * `step`. The table and its states are the stored tensors of those names until the first such run moves them into the
 * table's wasm memory; `get` and `put` still see them under their names.
 */
export interface HostTableRun {
  table: string;
  vocab: number;
  dim: number;
  ids: string;
  source: HostIdSource;
  rows: string;
  grad: string;
  rule: TableRule;
  update: TableUpdateMode;
  states: string[];
  lr: string;
  step: string;
}

/**
 * The host tables of a run, by the id its session gave their list: the descriptions come with the session's first
 * request that uses the list and the worker keeps them until the session's release, so that later runs (a step
 * each) do not carry them again.
 */
export interface HostTableList { id: number; runs?: HostTableRun[] }

export type Request =
  | { op: 'create'; session: number; model: Uint8Array; options: SessionOptions }
  /**
   * `giveBackFrom`: the buffers of the inline feeds of at least that many bytes come back with the reply
   * (`returned`), once the run no longer needs them; null: none.
   */
  | {
    op: 'run'; session: number; feeds: Record<string, Feed>; fetch: string[] | null; keep: Record<string, string>;
    /** `gatherOnly`: the tables' rows are fed, the tables not updated (the graph has no gradients). */
    tables: HostTableList | null; gatherOnly: boolean; giveBackFrom: number | null;
  }
  /** Runs of one session, one per element of `steps`, in order: outputs in `fetch` come back stacked [steps, ...dims]. */
  | { op: 'runSteps'; session: number; steps: Record<string, Feed>[]; fetch: string[]; keep: Record<string, string>; tables: HostTableList | null; giveBackFrom: number | null }
  | { op: 'put'; tensors: Record<string, TensorData> }
  | { op: 'get'; names: string[]; take: boolean }
  | { op: 'release'; session: number }
  /** What the worker still holds: its sessions, stored tensors and held tables (an Inventory). */
  | { op: 'inventory' }
  | { op: 'close' };

export interface Inventory { sessions: number; stored: number; held: number }

export type Reply =
  | { id: number; ok: true; result: unknown; returned?: ArrayBuffer[] }
  | { id: number; ok: false; error: string };

/** workerData: `cancel[0]` set to 1 tells the worker to drop queued requests and exit. */
export interface WorkerData { cancel: SharedArrayBuffer }
