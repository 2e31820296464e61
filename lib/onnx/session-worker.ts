/**
 * Worker-thread side of SessionHost: owns ONNX Runtime sessions and a store of tensors that stay here
 * between runs (e.g. parameters and optimizer state). `session.run` is synchronous native work that would
 * block an event loop for its whole duration, which is why it lives in this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { gatherRows, sparseUpdate, tableRows } from './session-host-tables.js';
import type { Feed, HostTableRun, Reply, Request, TensorData, WorkerData } from './session-protocol.js';

const port = parentPort;
if (!port) throw new Error('session-worker must run in a worker thread');
const cancel = new Int32Array((workerData as WorkerData).cancel);

const sessions = new Map<number, ort.InferenceSession>();
const store = new Map<string, ort.Tensor>();

function toTensor(t: TensorData): ort.Tensor {
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromTensor(t: ort.Tensor): TensorData {
  return { type: t.type as TensorData['type'], dims: [...t.dims], data: t.data as TensorData['data'] };
}

function stored(name: string): ort.Tensor {
  const t = store.get(name);
  if (!t) throw new Error(`no stored tensor '${name}'`);
  return t;
}

function session(id: number): ort.InferenceSession {
  const s = sessions.get(id);
  if (!s) throw new Error(`no session ${id}`);
  return s;
}

/** Feeds `h.rows` with the rows of the batch's ids; returns the row index of each. */
function gather(h: HostTableRun, feeds: Record<string, ort.Tensor>): Int32Array {
  const ids = feeds[h.ids];
  if (!ids || ids.type !== 'int64' || ids.dims.length !== 2) throw new Error(`host table ${h.table}: feed '${h.ids}' is not int64 [B, n] ids`);
  const [batch, width] = ids.dims as [number, number];
  const rows = tableRows(ids.data as BigInt64Array, width, h.source, h.vocab, h.table);
  const table = stored(h.table).data as Float32Array;
  feeds[h.rows] = new ort.Tensor('float32', gatherRows(table, h.dim, rows), [batch, h.source.columns.length, h.dim]);
  return rows;
}

function update(h: HostTableRun, rows: Int32Array, feeds: Record<string, ort.Tensor>, out: ort.InferenceSession.OnnxValueMapType): void {
  const scalar = (name: string): number => (feeds[name]!.data as Float32Array)[0]!;
  const states = h.states.map((n) => stored(n).data as Float32Array);
  sparseUpdate(stored(h.table).data as Float32Array, states, h.dim, rows, out[h.grad]!.data as Float32Array, h.rule, scalar(h.lr), scalar(h.step));
}

async function handle(req: Request): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'create': {
      const s = await ort.InferenceSession.create(req.model, req.options);
      sessions.set(req.session, s);
      return { result: { inputNames: [...s.inputNames], outputNames: [...s.outputNames] }, transfer: [] };
    }
    case 'run': {
      const s = session(req.session);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, f] of Object.entries(req.feeds) as [string, Feed][]) {
        feeds[name] = 'stored' in f ? stored(f.stored) : toTensor(f);
      }
      const gathered = req.tables.map((h) => gather(h, feeds));
      const grads = req.tables.map((h) => h.grad);
      const keepNames = Object.keys(req.keep);
      const fetch = req.fetch ?? s.outputNames.filter((n) => !(n in req.keep) && !grads.includes(n));
      const out = await s.run(feeds, [...new Set([...fetch, ...keepNames, ...grads])]);
      for (const [output, as] of Object.entries(req.keep)) store.set(as, out[output]!);
      req.tables.forEach((h, i) => update(h, gathered[i]!, feeds, out));
      const result: Record<string, TensorData> = {};
      const transfer: ArrayBuffer[] = [];
      for (const name of fetch) {
        const t = fromTensor(out[name]!);
        result[name] = t;
        // ORT copies every output into a fresh buffer; hand it over unless it is also kept here.
        if (!(name in req.keep) && t.data.byteLength === t.data.buffer.byteLength) transfer.push(t.data.buffer as ArrayBuffer);
      }
      return { result, transfer };
    }
    case 'put':
      for (const [name, t] of Object.entries(req.tensors)) store.set(name, toTensor(t));
      return { result: null, transfer: [] };
    case 'get': {
      // Cloned, so the store keeps its tensors, unless they are taken: then whole buffers move without a copy.
      const result = Object.fromEntries(req.names.map((n) => [n, fromTensor(stored(n))]));
      if (!req.take) return { result, transfer: [] };
      for (const n of req.names) store.delete(n);
      const whole = Object.values(result).map((t) => t.data).filter((d) => d.byteOffset === 0 && d.byteLength === d.buffer.byteLength);
      return { result, transfer: [...new Set(whole.map((d) => d.buffer as ArrayBuffer))] };
    }
    case 'release':
      await sessions.get(req.session)?.release();
      sessions.delete(req.session);
      return { result: null, transfer: [] };
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
      reply = { id, ok: true, result: r.result };
      transfer = r.transfer;
    } catch (e) {
      reply = { id, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply, transfer);
  });
});
