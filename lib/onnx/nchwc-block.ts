/**
 * The NCHWc block size of ONNX Runtime's CPU kernels on this machine: MLAS picks it from the CPU's vector width
 * (16 with AVX-512, 8 with AVX2) and has none elsewhere, and ORT does not expose it. Found once per process by
 * running one small conv both ways, as Conv and as NCHWc kernels laid out for each candidate block: the block
 * whose result matches is the one MLAS uses; none matching (or the kernels missing) means none.
 */
import ort from 'onnxruntime-node';
import { GraphBuilder } from './graph.js';
import { nchwcConv } from './layers/nchwc-conv.js';
import { createRng } from '../rng.js';

const CANDIDATES = [16, 8];
/** A multiple of every candidate, so each lays the same conv out in whole blocks. */
const CHANNELS = 16;
const SIDE = 5;

let found: Promise<number | undefined> | undefined;

export function nchwcBlock(): Promise<number | undefined> {
  found ??= probe();
  return found;
}

async function probe(): Promise<number | undefined> {
  const rng = createRng(7);
  const random = (n: number) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
  const x = new ort.Tensor('float32', random(CHANNELS * SIDE * SIDE), [1, CHANNELS, SIDE, SIDE]);
  const w = new ort.Tensor('float32', random(CHANNELS * CHANNELS * 9), [CHANNELS, CHANNELS, 3, 3]);
  for (const block of CANDIDATES) {
    const g = new GraphBuilder('nchwc_probe');
    const xi = g.input('x', 'float32', [1, CHANNELS, SIDE, SIDE]);
    const wi = g.input('w', 'float32', [CHANNELS, CHANNELS, 3, 3]);
    g.output('plain', g.op('Conv', [xi, wi], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }), 'float32');
    g.output('blocked', nchwcConv(g, xi, wi, undefined, { ci: CHANNELS, co: CHANNELS, k: 3, s: 1, p: 1, block }), 'float32');
    let session: ort.InferenceSession | undefined;
    try {
      session = await ort.InferenceSession.create(g.toBytes(), { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'], logSeverityLevel: 4 });
      const out = await session.run({ x, w });
      const plain = out.plain!.data as Float32Array;
      const blocked = out.blocked!.data as Float32Array;
      if (plain.every((v, i) => Math.abs(v - blocked[i]!) <= 1e-4 * Math.max(1, Math.abs(v)))) return block;
    } catch {
      // No NCHWc kernels in this build, or none for this block: try the next.
    } finally {
      await session?.release();
    }
  }
  return undefined;
}
