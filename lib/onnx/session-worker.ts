/**
 * Worker-thread side of SessionHost: owns ONNX Runtime sessions and a store of tensors that stay here
 * between runs (e.g. parameters and optimizer state). `session.run` is synchronous native work that would
 * block an event loop for its whole duration, which is why it lives in this thread. Host tables and their
 * optimizer state move from the store into their WasmTable on the first run that updates them, and back out when
 * `get` takes or `put` replaces one of them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { tableRows } from './session-host-tables.js';
import { WasmTable } from './wasm-table.js';
import type { Feed, HostTableList, HostTableRun, Inventory, Reply, Request, TensorData, WorkerData } from './session-protocol.js';

const port = parentPort;
if (!port) throw new Error('session-worker must run in a worker thread');
const cancel = new Int32Array((workerData as WorkerData).cancel);

const sessions = new Map<number, ort.InferenceSession>();
const store = new Map<string, ort.Tensor>();

/** A host table in wasm memory: the store names of the table and its states, its dims, the run that set it up. */
interface Held { table: WasmTable; names: string[]; dims: readonly number[]; key: string }
/** By table name; `heldAs` maps each of a held table's names (table and states) to it. */
const held = new Map<string, Held>();
const heldAs = new Map<string, Held>();

function toTensor(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromTensor(t: ort.Tensor): TensorData {
  return { type: t.type as TensorData['type'], dims: [...t.dims], data: t.data as TensorData['data'] };
}

function stored(name: string): ort.Tensor {
  const h = heldAs.get(name);
  if (h) return new ort.Tensor('float32', heldValues(h, name), h.dims);
  const t = store.get(name);
  if (!t) throw new Error(`no stored tensor '${name}'`);
  return t;
}

/** A held table's (or state's) values, copied out of its wasm memory. */
function heldValues(h: Held, name: string): Float32Array<ArrayBuffer> {
  return h.table.array(h.names.indexOf(name));
}

/** A host-table list as sent once (HostTableList), with what `hold` compares each of its tables by. */
interface TableList { runs: HostTableRun[]; keys: string[] }
/** By session, then list id: dropped with the session. */
const tableLists = new Map<number, Map<number, TableList>>();

function tableList(session: number, list: HostTableList | null): TableList {
  if (!list) return { runs: [], keys: [] };
  let lists = tableLists.get(session);
  if (!lists) tableLists.set(session, lists = new Map());
  if (list.runs) lists.set(list.id, { runs: list.runs, keys: list.runs.map((r) => JSON.stringify([r.dim, r.rule, r.update, r.states])) });
  const known = lists.get(list.id);
  if (!known) throw new Error(`session ${session}: no host-table list ${list.id}`);
  return known;
}

/** The WasmTable of `run`'s table (`key` its layout and rule): moved in from the store on first use (or when the rule changed). */
function hold(run: HostTableRun, key: string): WasmTable {
  const current = held.get(run.table);
  if (current?.key === key) return current.table;
  if (current) release(current);
  const names = [run.table, ...run.states];
  const [table, ...states] = names.map((n) => stored(n));
  const h: Held = { table: new WasmTable(table!.data as Float32Array, states.map((s) => s.data as Float32Array), run.dim, run.rule, run.update), names, dims: table!.dims, key };
  for (const n of names) {
    store.delete(n);
    heldAs.set(n, h);
  }
  held.set(run.table, h);
  return h.table;
}

/** Moves a held table's values back into the store (copied out of its wasm memory). */
function release(h: Held): void {
  for (const n of h.names) {
    store.set(n, new ort.Tensor('float32', heldValues(h, n), h.dims));
    heldAs.delete(n);
  }
  held.delete(h.names[0]!);
}

function releaseAny(names: string[]): void {
  for (const n of names) {
    const h = heldAs.get(n);
    if (h) release(h);
  }
}

function session(id: number): ort.InferenceSession {
  const s = sessions.get(id);
  if (!s) throw new Error(`no session ${id}`);
  return s;
}

/**
 * One run of `s`: feeds resolved (stored ones from the store as it is now, so a step sees the state the one before
 * kept), host tables (`runs`, held as `tables`) gathered before it and, unless `gatherOnly`, updated after it, outputs
 * in `keep` stored. Returns the fetched outputs: `fetch`, or when null every output neither kept nor a table's gradient.
 */
async function runStep(
  s: ort.InferenceSession, sent: Record<string, Feed>, fetchNames: string[] | null, keep: Record<string, string>,
  runs: HostTableRun[], tables: WasmTable[], gatherOnly: boolean,
): Promise<Record<string, ort.Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(sent)) feeds[name] = 'stored' in f ? stored(f.stored) : toTensor(f);
  const gathered = runs.map((h, i) => gather(h, tables[i]!, feeds));
  const grads = gatherOnly ? [] : runs.map((h) => h.grad);
  const fetch = fetchNames ?? s.outputNames.filter((n) => !(n in keep) && !grads.includes(n));
  const out = await s.run(feeds, [...new Set([...fetch, ...Object.keys(keep), ...grads])]);
  for (const [output, as] of Object.entries(keep)) store.set(as, out[output]!);
  const scalar = (name: string): number => (feeds[name]!.data as Float32Array)[0]!;
  if (!gatherOnly) runs.forEach((h, i) => tables[i]!.step(gathered[i]!, out[h.grad]!.data as Float32Array, scalar(h.lr), scalar(h.step)));
  return Object.fromEntries(fetch.map((name) => [name, out[name]!]));
}

/** One output of consecutive steps, stacked along a new leading dim [steps, ...dims], as a multi-step graph outputs it. */
function stacked(steps: ort.Tensor[]): TensorData {
  const [first] = steps;
  const size = first!.data.length;
  const data = new (first!.data.constructor as new (n: number) => TensorData['data'])(size * steps.length);
  steps.forEach((t, j) => (data as Float32Array).set(t.data as Float32Array, j * size));
  return { type: first!.type as TensorData['type'], dims: [steps.length, ...first!.dims], data };
}

/** Feeds `h.rows` with the rows of the batch's ids; returns the row index of each. */
function gather(h: HostTableRun, table: WasmTable, feeds: Record<string, ort.Tensor>): Int32Array {
  const ids = feeds[h.ids];
  if (!ids || ids.type !== 'int64' || ids.dims.length !== 2) throw new Error(`host table ${h.table}: feed '${h.ids}' is not int64 [B, n] ids`);
  const [batch, width] = ids.dims as [number, number];
  const rows = tableRows(ids.data as BigInt64Array, width, h.source, h.vocab, h.table);
  feeds[h.rows] = new ort.Tensor('float32', table.gather(rows), [batch, h.source.columns.length, h.dim]);
  return rows;
}

/** The buffers of the inline feeds of `steps` of at least `from` bytes, each once: what a request gives back (none: undefined). */
function feedBuffers(steps: Record<string, Feed>[], from: number | null): ArrayBuffer[] | undefined {
  if (from === null) return undefined;
  const buffers = new Set<ArrayBuffer>();
  for (const feeds of steps) {
    for (const f of Object.values(feeds)) {
      if (!('stored' in f) && f.data.buffer instanceof ArrayBuffer && f.data.buffer.byteLength >= from) buffers.add(f.data.buffer);
    }
  }
  return buffers.size > 0 ? [...buffers] : undefined;
}

async function handle(req: Request): Promise<{ result: unknown; transfer: ArrayBuffer[]; returned?: ArrayBuffer[] }> {
  switch (req.op) {
    case 'create': {
      const s = await ort.InferenceSession.create(req.model, req.options);
      sessions.set(req.session, s);
      return { result: { inputNames: [...s.inputNames], outputNames: [...s.outputNames] }, transfer: [] };
    }
    case 'run': {
      // The list before anything that may fail: the session's later runs send only its id.
      const s = session(req.session);
      const { runs, keys } = tableList(req.session, req.tables);
      const out = await runStep(s, req.feeds, req.fetch, req.keep, runs, runs.map((r, i) => hold(r, keys[i]!)), req.gatherOnly);
      const result: Record<string, TensorData> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, tensor] of Object.entries(out)) {
        const t = fromTensor(tensor);
        result[name] = t;
        // ORT copies every output into a fresh buffer; hand it over unless it is also kept here.
        if (!(name in req.keep) && t.data.byteLength === t.data.buffer.byteLength) transfer.push(t.data.buffer as ArrayBuffer);
      }
      return { result, transfer, returned: feedBuffers([req.feeds], req.giveBackFrom) };
    }
    case 'runSteps': {
      // The list before anything that may fail: the session's later runs send only its id.
      const s = session(req.session);
      const { runs, keys } = tableList(req.session, req.tables);
      const tables = runs.map((r, i) => hold(r, keys[i]!));
      const outs: Record<string, ort.Tensor>[] = [];
      for (const feeds of req.steps) outs.push(await runStep(s, feeds, req.fetch, req.keep, runs, tables, false));
      const result = Object.fromEntries(req.fetch.map((name) => [name, stacked(outs.map((o) => o[name]!))]));
      return { result, transfer: Object.values(result).map((t) => t.data.buffer as ArrayBuffer), returned: feedBuffers(req.steps, req.giveBackFrom) };
    }
    case 'put':
      releaseAny(Object.keys(req.tensors));
      for (const [name, t] of Object.entries(req.tensors)) store.set(name, toTensor(t));
      return { result: null, transfer: [] };
    case 'get': {
      // Cloned, so the store keeps its tensors, unless they are taken: then whole buffers move without a copy. Held
      // tables are copied out of their rows in wasm memory, and those copies move too: cloned again, a checkpoint of
      // dlrm-host-100k's tables held 500 MB twice in this thread.
      if (req.take) releaseAny(req.names);
      const copies: ArrayBuffer[] = [];
      const result = Object.fromEntries(req.names.map((n): [string, TensorData] => {
        const h = heldAs.get(n);
        if (!h) return [n, fromTensor(stored(n))];
        const data = heldValues(h, n);
        copies.push(data.buffer);
        return [n, { type: 'float32', dims: [...h.dims], data }];
      }));
      if (!req.take) return { result, transfer: copies };
      for (const n of req.names) store.delete(n);
      const whole = Object.values(result).map((t) => t.data).filter((d) => d.byteOffset === 0 && d.byteLength === d.buffer.byteLength);
      return { result, transfer: [...new Set(whole.map((d) => d.buffer as ArrayBuffer))] };
    }
    case 'release':
      await sessions.get(req.session)?.release();
      sessions.delete(req.session);
      tableLists.delete(req.session);
      return { result: null, transfer: [] };
    case 'inventory':
      return { result: { sessions: sessions.size, stored: store.size, held: held.size } satisfies Inventory, transfer: [] };
    case 'close':
      return shutdown();
  }
}

/**
 * The worker exits on its own, between runs: Worker.terminate() during a native session.run makes the
 * binding throw a C++ exception that aborts the whole process.
 */
async function shutdown(): Promise<never> {
  for (const s of sessions.values()) await s.release();
  process.exit(0);
}

// Requests run strictly in arrival order: a run may be queued before the session it uses has finished loading.
let queue = Promise.resolve();
port.on('message', ({ id, req }: { id: number; req: Request }) => {
  queue = queue.then(async () => {
    if (Atomics.load(cancel, 0)) await shutdown();
    let reply: Reply;
    let transfer: ArrayBuffer[] = [];
    try {
      const r = await handle(req);
      reply = { id, ok: true, result: r.result, ...(r.returned && { returned: r.returned }) };
      transfer = [...r.transfer, ...(r.returned ?? [])];
    } catch (e) {
      reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply, transfer);
  });
});
