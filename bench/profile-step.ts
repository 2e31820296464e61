/**
 * Where a zoo model's train step spends its time: runs the bare train-step session (bench/train.ts rawStepper, one
 * intra-op thread, Adam, the state fed back output to input) for N steps with ORT's per-node profiler on, with
 * worker-held tables gathered before each run and updated after it in their WasmTables as the session worker does,
 * and prints the kernel time by op type, by op type and output shape (which layer a kernel serves, and what a variant
 * of it would have to beat), and by node, the shares of the optimizer update, of copy-like ops and of
 * gathers/scatters, what `session.run` costs beyond its kernels, and the host-side gather and table update. It also
 * prints a digest of every output of the last step (loss, parameters, optimizer state, running statistics, host-table
 * gradients): a change to the graph that must keep the step's arithmetic leaves it as it was.
 *
 *   node --import tsx bench/profile-step.ts --model resnet --batch 256 [--steps 20] [--top 15] [--threads 1] [--json]
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainStepGraph } from '../lib/onnx/models/build.js';
import { nchwcBlock } from '../lib/onnx/nchwc-block.js';
import { intraOpThreadOptions } from '../lib/onnx/session-host.js';
import { BENCH_MODELS, benchModel, OPTIMIZER, rawStepper } from './train.js';

const COPY_OPS = new Set(['Identity', 'Transpose', 'Concat', 'Split', 'Slice', 'Pad', 'Expand', 'Tile', 'Cast', 'Reshape', 'Squeeze', 'Unsqueeze']);
const GATHER_OPS = new Set(['Gather', 'GatherElements', 'GatherND', 'ScatterND', 'ScatterElements', 'MaxUnpool']);

interface ProfileEvent { cat: string; name: string; dur: number; args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] } }

interface Total { name: string; ms: number; calls: number }

const { values } = parseArgs({
  options: {
    model: { type: 'string' }, batch: { type: 'string', default: '256' }, steps: { type: 'string', default: '20' },
    top: { type: 'string', default: '15' }, threads: { type: 'string', default: '1' }, json: { type: 'boolean', default: false },
  },
});
if (!values.model) throw new Error(`--model must be one of ${BENCH_MODELS.map((m) => m.name).join(', ')}`);
const batchSize = Number(values.batch);
const steps = Number(values.steps);
const top = Number(values.top);
const intraOpNumThreads = Number(values.threads);

const { def, batch } = benchModel(values.model, batchSize);

// The optimizer is appended after the reverse pass and its first node reads `step` (Adam's bias correction), so
// it owns every node from there on (GraphBuilder keeps creation order).
const nodes = trainStepGraph(def, OPTIMIZER, { nchwcBlock: await nchwcBlock(), intraOpThreads: intraOpNumThreads }).toGraph().node;
const firstOptimizerNode = nodes.findIndex((n) => n.input.includes('step'));
const optimizerNodes = new Set(nodes.slice(firstOptimizerNode).map((n) => n.name));

// Warm up without the profiler, then profile `steps` steps in a second session (the first runs allocate and plan).
const dir = mkdtempSync(join(tmpdir(), 'tide-profile-'));
const host = { gather: 0, update: 0 };
const warm = await rawStepper(def, batch, intraOpThreadOptions(intraOpNumThreads));
for (let step = 1; step <= 3; step++) await warm.run(step);
await warm.session.release();
const { session, run } = await rawStepper(def, batch, { ...intraOpThreadOptions(intraOpNumThreads), enableProfiling: true, profileFilePrefix: join(dir, 'step') }, host);
for (let step = 1; step <= 3; step++) await run(step);
host.gather = 0;
host.update = 0;
const started = performance.now();
let outputs: Awaited<ReturnType<typeof run>> = {};
for (let step = 4; step < 4 + steps; step++) outputs = await run(step);
const wallMs = (performance.now() - started) / steps;
const digest = createHash('sha256');
for (const name of Object.keys(outputs).sort()) {
  const { data } = outputs[name]!;
  digest.update(name).update(new Uint8Array((data as Float32Array).buffer, (data as Float32Array).byteOffset, (data as Float32Array).byteLength));
}
session.endProfiling();
await session.release();
const file = readdirSync(dir).find((f) => f.endsWith('.json'));
if (!file) throw new Error(`no profile written in ${dir}`);
const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
rmSync(dir, { recursive: true });

// The profile covers every run of this session: keep the last `steps` model runs and the kernels inside them.
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const timedRuns = runs.slice(-steps);
const kernelEvents = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const kernels = kernelEvents.slice(-kernelEvents.length * (timedRuns.length / runs.length));
const perStep = (us: number) => us / 1000 / steps;

function totals(key: (e: ProfileEvent) => string): Total[] {
  const byKey = new Map<string, Total>();
  for (const e of kernels) {
    const k = key(e);
    const t = byKey.get(k) ?? { name: k, ms: 0, calls: 0 };
    t.ms += perStep(e.dur);
    t.calls += 1 / steps;
    byKey.set(k, t);
  }
  return [...byKey.values()].sort((a, b) => b.ms - a.ms);
}

// Nodes ORT fused keep the first node's name before a '/'.
const nodeName = (e: ProfileEvent) => e.name.slice(0, -'_kernel_time'.length).split('/')[0]!;
const opType = (e: ProfileEvent) => e.args?.op_name ?? '?';
const firstOutputShape = (e: ProfileEvent) => {
  const dims = Object.values(e.args?.output_type_shape?.[0] ?? {})[0];
  return dims ? `[${dims.join(', ')}]` : '[]';
};
const kernelMs = perStep(kernels.reduce((a, e) => a + e.dur, 0));
const runMs = perStep(timedRuns.reduce((a, e) => a + e.dur, 0));
const share = (pick: (e: ProfileEvent) => boolean) => perStep(kernels.filter(pick).reduce((a, e) => a + e.dur, 0));
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const report = {
  model: values.model, batchSize, steps, nodes: nodes.length, outputsDigest: digest.digest('hex').slice(0, 16),
  wallMsPerStep: round(wallMs), runMsPerStep: round(runMs), kernelMsPerStep: round(kernelMs),
  hostGatherMsPerStep: round(host.gather / steps), hostUpdateMsPerStep: round(host.update / steps),
  optimizerMs: round(share((e) => optimizerNodes.has(nodeName(e)))),
  copyMs: round(share((e) => COPY_OPS.has(opType(e)))),
  gatherScatterMs: round(share((e) => GATHER_OPS.has(opType(e)))),
  byOpType: totals(opType).slice(0, top).map((t) => ({ ...t, ms: round(t.ms), calls: Math.round(t.calls), share: round(t.ms / kernelMs) })),
  byOpShape: totals((e) => `${opType(e)} ${firstOutputShape(e)}`).slice(0, top).map((t) => ({ ...t, ms: round(t.ms), calls: Math.round(t.calls), share: round(t.ms / kernelMs) })),
  byNode: totals((e) => `${nodeName(e)} (${opType(e)})`).slice(0, top).map((t) => ({ name: t.name, ms: round(t.ms), share: round(t.ms / kernelMs) })),
};

if (values.json) console.log(JSON.stringify(report));
else {
  const pct = (ms: number) => `${((100 * ms) / kernelMs).toFixed(1)}%`;
  console.log(`${report.model} batch ${batchSize}, ${steps} steps, ${report.nodes} nodes; outputs of step ${3 + steps}: sha256 ${report.outputsDigest}`);
  console.log(`per step: ${report.wallMsPerStep} ms wall (session.run and host work), ${report.runMsPerStep} ms in ORT's run, ${report.kernelMsPerStep} ms in kernels`);
  console.log(`host tables per step: gather ${report.hostGatherMsPerStep} ms, update ${report.hostUpdateMsPerStep} ms`);
  console.log(`optimizer update ${report.optimizerMs} ms (${pct(report.optimizerMs)}), copy-like ops ${report.copyMs} ms (${pct(report.copyMs)}), gathers/scatters ${report.gatherScatterMs} ms (${pct(report.gatherScatterMs)})`);
  console.log('\nby op type (ms/step, calls/step, share of kernel time):');
  for (const t of report.byOpType) console.log(`  ${t.name.padEnd(22)} ${t.ms.toFixed(3).padStart(9)} ${String(t.calls).padStart(5)}  ${pct(t.ms)}`);
  console.log('\nby op type and first output shape:');
  for (const t of report.byOpShape) console.log(`  ${t.name.padEnd(40)} ${t.ms.toFixed(3).padStart(9)} ${String(t.calls).padStart(5)}  ${pct(t.ms)}`);
  console.log('\nby node:');
  for (const t of report.byNode) console.log(`  ${t.name.padEnd(40)} ${t.ms.toFixed(3).padStart(9)}  ${pct(t.ms)}`);
}
