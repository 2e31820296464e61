/** Trainable parameter (and buffer) declarations shared by every model builder. */
import type { Rng } from '../rng.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Inputs feeding each output unit; scales the initialization. */
  fanIn: number;
  /** 'ones' is for normalization scales and running variances; 'given' takes `value` (a user graph's initializer). */
  init: 'kaiming-uniform' | 'zeros' | 'ones' | 'given';
  /** The initial value when `init` is 'given'. */
  value?: Float32Array;
}

export function paramSize(spec: ParamSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** Initial value of a parameter or buffer (a copy of a given one). Kaiming (He) uniform: U(±sqrt(6/fanIn)), drawing from `rng` in order. */
export function initialValue(spec: ParamSpec, rng: Rng): Float32Array {
  if (spec.init === 'given') return spec.value!.slice();
  const v = new Float32Array(paramSize(spec));
  if (spec.init === 'ones') v.fill(1);
  if (spec.init === 'kaiming-uniform') {
    const bound = Math.sqrt(6 / spec.fanIn);
    for (let i = 0; i < v.length; i++) v[i] = rng.uniform(-bound, bound);
  }
  return v;
}
