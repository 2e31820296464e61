import type { GraphBuilder } from '../graph.js';
import { scalar } from '../ops.js';

export function reluForward(g: GraphBuilder, z: string): string {
  return g.op('Relu', [z]);
}

/** dz from the activation a = relu(z): a > 0 exactly where z > 0, so z need not be kept. */
export function reluBackward(g: GraphBuilder, a: string, da: string): string {
  const zero = scalar(g, 0);
  return g.op('Where', [g.op('Greater', [a, zero]), da, zero]);
}
