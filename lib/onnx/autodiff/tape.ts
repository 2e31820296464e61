/**
 * Reverse-mode autodiff over ONNX graphs. Layers emit their forward nodes into the GraphBuilder and record,
 * per op, a closure that emits the backward nodes; `gradients` replays those closures in reverse order.
 * The same forward function therefore yields the inference graph (no `gradients` call) and the train step.
 */
import type { GraphBuilder } from '../graph.js';
import type { Dim } from '../proto.js';
import { paramSize, type ParamSpec } from '../params.js';

/**
 * Where parameters come from: graph inputs, or `weights` embedded as initializers. With inputs, a host table is its
 * gathered rows (the worker gathers them from the table it holds, and after a train step updates it); embedded, the
 * table itself, looked up in the graph.
 */
export type ParamMode = { kind: 'inputs' } | { kind: 'weights'; weights: Record<string, Float32Array> };

/**
 * Given output gradients (undefined: no gradient flows into that output) and which inputs need a gradient,
 * returns the input gradients aligned with the op's inputs. `needs` lets a layer skip work nobody reads,
 * e.g. the input gradient of the first layer.
 */
export type Backward = (dOutputs: (string | undefined)[], needs: boolean[]) => (string | undefined)[];

interface Entry { inputs: string[]; outputs: string[]; backward: Backward }

/**
 * Where the ids that index a host-held table come from: columns of an int64 model input. `padding` false: raw
 * ids hashed as id mod vocab (ONNX Mod, fmod 0); true: ids in [0, vocab), -1 marking padding (embedding bags).
 */
export interface HostIdSource { input: string; columns: number[]; padding: boolean }

/**
 * How the worker applies the optimizer to a host table: `dense` updates every row (untouched ones with a zero
 * gradient), exactly as the graph updates a table it holds; `lazy` only the rows the batch touches (see
 * session-host-tables.ts), for tables too large for a dense pass each step.
 */
export type TableUpdateMode = 'dense' | 'lazy';

/**
 * An embedding table held outside the graph (in the session worker's memory). Its spec is also among the tape's
 * `params`, so model state, initialization and optimizer-state names treat it like any parameter; the graph
 * instead takes the gathered rows as input `rows` [B, columns, dim] and, in training, outputs `<rows>__grad`.
 */
export interface HostTable {
  param: ParamSpec;
  rows: string;
  /** The in-graph ids [B, columns] the rows were gathered by (after hashing; padding mapped to row 0). */
  ids: string;
  source: HostIdSource;
  update: TableUpdateMode;
}

/** Graph input name of the per-step seed that stochastic layers (Dropout) derive their randomness from. */
const RNG_SEED_INPUT = 'rng_seed';

/** How a tape builds its graph beyond what the model defines. */
export interface TapeOptions {
  training: boolean;
  params: ParamMode;
  /**
   * The NCHWc block size of ONNX Runtime's CPU kernels on this machine (see nchwc-block.ts): set, convs run as
   * NCHWc kernels (layers/nchwc-conv.ts). Only for sessions on the CPU execution provider.
   */
  nchwcBlock?: number;
  /**
   * The intra-op threads of the session that runs the graph (default 1): some backward formulations pay only with
   * several (conv2d's input gradient as columns and Col2Im).
   */
  intraOpThreads?: number;
}

export class Tape {
  readonly g: GraphBuilder;
  readonly training: boolean;
  readonly nchwcBlock: number | undefined;
  readonly intraOpThreads: number;
  readonly params: ParamSpec[] = [];
  readonly buffers: ParamSpec[] = [];
  readonly hostTables: HostTable[] = [];
  private readonly mode: ParamMode;
  private readonly entries: Entry[] = [];
  private readonly shapes = new Map<string, Dim[]>();
  private readonly bufferUpdates = new Map<string, string>();
  private seed?: string;

  constructor(g: GraphBuilder, opts: TapeOptions) {
    this.g = g;
    this.training = opts.training;
    this.nchwcBlock = opts.nchwcBlock;
    this.intraOpThreads = opts.intraOpThreads ?? 1;
    this.mode = opts.params;
  }

  /** Declares a trainable parameter; returns its value name (graph input or initializer). */
  param(spec: ParamSpec): string {
    this.params.push(spec);
    return this.declare(spec);
  }

  /** True when host tables are looked up in the graph (an export's initializers). */
  get gathersInGraph(): boolean {
    return this.mode.kind === 'weights';
  }

  /**
   * Declares a host-held table (see HostTable) and its rows input `rows` [B, columns, dim]; returns the rows value.
   * Only on tapes whose parameters are inputs, tables as their rows (see ParamMode).
   */
  hostTable(spec: ParamSpec, rows: string, ids: string, source: HostIdSource, update: TableUpdateMode): string {
    if (this.gathersInGraph) throw new Error(`host table ${spec.name} on a tape that looks tables up in the graph`);
    const [, dim] = spec.shape as [number, number];
    const shape = [this.shape(ids)[0]!, source.columns.length, dim];
    this.params.push(spec);
    this.hostTables.push({ param: spec, rows, ids, source, update });
    return this.setShape(this.g.input(rows, 'float32', shape), shape);
  }

  /**
   * Declares a non-trainable state tensor (e.g. BatchNorm running stats). In training the layer that owns it
   * calls `updateBuffer` with its new value; the train step outputs that as `<name>__new`.
   */
  buffer(spec: ParamSpec): string {
    this.buffers.push(spec);
    return this.declare(spec);
  }

  updateBuffer(name: string, value: string): void {
    if (!this.training) throw new Error(`buffer ${name} updated outside training`);
    if (!this.buffers.some((b) => b.name === name)) throw new Error(`unknown buffer ${name}`);
    if (this.bufferUpdates.has(name)) throw new Error(`buffer ${name} updated twice`);
    this.bufferUpdates.set(name, value);
  }

  /** New value of a buffer after this forward pass, or undefined if no layer updated it. */
  bufferUpdate(name: string): string | undefined {
    return this.bufferUpdates.get(name);
  }

  /** The scalar float32 `rng_seed` graph input, declared on first use (only stochastic layers in training ask). */
  rngSeed(): string {
    this.seed ??= this.g.input(RNG_SEED_INPUT, 'float32', []);
    return this.seed;
  }

  /** Static shape of a value; 'B' marks the symbolic batch dimension. Layers need it for parameter and kernel sizes. */
  shape(value: string): Dim[] {
    const s = this.shapes.get(value);
    if (!s) throw new Error(`tape: no shape recorded for '${value}'`);
    return s;
  }

  setShape(value: string, shape: Dim[]): string {
    this.shapes.set(value, shape);
    return value;
  }

  /** An inference tape keeps no backward: its layers may use forward-only formulations. */
  record(inputs: string[], outputs: string[], backward: Backward): void {
    if (this.training) this.entries.push({ inputs, outputs, backward });
  }

  /**
   * Reverse pass from seed gradients (value → its gradient). A value used by several ops gets the Sum of their
   * contributions. Returns value → gradient for each wanted value that the seeds depend on.
   */
  gradients(seeds: Record<string, string>, wanted: string[]): Map<string, string> {
    if (!this.training) throw new Error('gradients of an inference tape');
    // Forward sweep: only values derived from a wanted value need gradients, so other backward work is skipped.
    const live = new Set(wanted);
    const liveEntries = this.entries.filter((e) => {
      const isLive = e.inputs.some((v) => live.has(v));
      if (isLive) for (const o of e.outputs) live.add(o);
      return isLive;
    });
    const parts = new Map<string, string[]>(Object.entries(seeds).map(([v, d]) => [v, [d]]));
    const total = (v: string): string | undefined => {
      const p = parts.get(v);
      if (!p || p.length === 0) return undefined;
      // Two parts (a residual's skip and main path) as Add: the same sum, which ORT splits over its intra-op threads and
      // Sum does not (ResNet at 256 on two threads: Sum 7.4–7.8 ms a step, as on one; as Add, 3.0–5.3 ms).
      if (p.length > 1) parts.set(v, [this.g.op(p.length === 2 ? 'Add' : 'Sum', p)]);
      return parts.get(v)![0];
    };
    // Every consumer of a value is recorded after its producer, so in reverse order all contributions
    // to an op's outputs are in when the op is reached.
    for (const e of liveEntries.reverse()) {
      const dOut = e.outputs.map(total);
      if (dOut.every((d) => d === undefined)) continue;
      const needs = e.inputs.map((v) => live.has(v));
      const dIn = e.backward(dOut, needs);
      dIn.forEach((d, i) => {
        if (d === undefined || !needs[i]) return;
        const v = e.inputs[i]!;
        parts.set(v, [...(parts.get(v) ?? []), d]);
      });
    }
    const out = new Map<string, string>();
    for (const v of wanted) {
      const d = total(v);
      if (d !== undefined) out.set(v, d);
    }
    return out;
  }

  private declare(spec: ParamSpec): string {
    const value = this.mode.kind === 'inputs'
      ? this.g.input(spec.name, 'float32', spec.shape)
      : this.g.initializer(spec.name, 'float32', spec.shape, this.weight(spec, this.mode.weights));
    return this.setShape(value, spec.shape);
  }

  private weight(spec: ParamSpec, weights: Record<string, Float32Array>): Float32Array {
    const w = weights[spec.name];
    if (!w) throw new Error(`missing weight ${spec.name}`);
    if (w.length !== paramSize(spec)) throw new Error(`weight ${spec.name} has ${w.length} values, expected ${paramSize(spec)}`);
    return w;
  }
}
