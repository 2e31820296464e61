/**
 * Worker-held tables in wasm memory (lib/onnx/wasm-table.ts) and their SIMD update kernel (table-update-kernel.ts):
 * bit for bit the float32 operations of the JS row-sparse update (session-host-tables.ts, itself checked against a
 * naive reference and, through training, against the in-graph optimizers), lazily or densely, for every rule and
 * for row widths that are and are not multiples of the four SIMD lanes, and with the state stored without subnormals.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TableRule } from '../../lib/onnx/session-host-tables.js';
import { gatherRows, sparseUpdate } from '../helpers/table-update-reference.js';
import { WasmTable } from '../../lib/onnx/wasm-table.js';
import { createRng } from '../../lib/rng.js';

const RULES: TableRule[] = [
  { name: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 },
  { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01 },
  { name: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 },
  { name: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  { name: 'adam', beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.01 },
  { name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
];

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('WasmTable', () => {
  for (const rule of RULES) {
    const label = `${rule.name}${rule.name === 'sgd' ? ` momentum ${rule.momentum}${rule.nesterov ? ' nesterov' : ''}` : ''}, weight decay ${rule.weightDecay}`;
    it(`${label}: lazy and dense steps equal the JS update bit for bit (row widths 1, 3, 4, 7, 16; small and large tables)`, () => {
      // 37 rows: a step touches a good share of them; 1000: only a few (the two ways of ordering a lazy step's rows).
      for (const [dim, vocab] of [1, 3, 4, 7, 16].flatMap((d) => [[d, 37], [d, 1000]] as const)) {
        for (const mode of ['lazy', 'dense'] as const) {
          const rng = createRng(dim);
          const table = Float32Array.from({ length: vocab * dim }, () => rng.next() - 0.5);
          // States from earlier steps: zeros, small normal values and subnormals (Adam's v non-negative), which the
          // update stores flushed.
          const states = (rule.name === 'sgd' ? [-1] : [-1, 1]).map((sign) => Float32Array.from({ length: vocab * dim }, (_, i) => {
            const magnitude = [0, 1e-3, 1e-40, 2 ** -149][i % 4]! * (rng.next() + 0.5);
            return sign < 0 && rng.int(2) === 0 ? -magnitude : magnitude;
          }));
          const held = new WasmTable(table, states, dim, rule, mode);
          for (let step = 1; step <= 6; step++) {
            // Repeated rows and padding; the last rows are never touched; batch sizes vary (the lazy scratch grows).
            const rows = Int32Array.from({ length: 5 + rng.int(40) }, () => (rng.int(10) === 0 ? -1 : rng.int(Math.min(vocab, 200) - 3)));
            const grad = Float32Array.from({ length: rows.length * dim }, () => rng.next() - 0.5);
            const lr = Math.fround(0.01 / step);
            held.step(rows, grad, lr, step);
            if (mode === 'lazy') sparseUpdate(table, states, dim, rows, grad, rule, lr, step);
            else {
              // Dense: every row, its gradient summed in occurrence order (zero for untouched rows).
              const summed = new Float32Array(vocab * dim);
              rows.forEach((r, i) => { if (r >= 0) for (let k = 0; k < dim; k++) summed[r * dim + k]! += grad[i * dim + k]!; });
              sparseUpdate(table, states, dim, Int32Array.from({ length: vocab }, (_, r) => r), summed, rule, lr, step);
            }
          }
          assert.ok(bits(held.array(0)).equals(bits(table)), `${mode}, dim ${dim}, vocab ${vocab}: table`);
          states.forEach((s, i) => assert.ok(bits(held.array(i + 1)).equals(bits(s)), `${mode}, dim ${dim}, vocab ${vocab}: state ${i}`));
          if (mode === 'dense') {
            const subnormal = states.flatMap((s) => [...s]).find((x) => x !== 0 && Math.abs(x) < 2 ** -126);
            assert.equal(subnormal, undefined, `dense, dim ${dim}, vocab ${vocab}: a stored state is subnormal`);
          }
        }
      }
    });
  }

  it('gathers rows as the JS gather does, bits included (zeros for padding), for any row width; copies in and out bit for bit', () => {
    for (const dim of [1, 3, 4, 7, 16]) {
      const rng = createRng(dim);
      const table = Float32Array.from({ length: 20 * dim }, () => rng.next() - 0.5);
      // A NaN with a payload and a negative zero come out as they are.
      new Uint32Array(table.buffer)[dim] = 0x7fc00123;
      table[2 * dim] = -0;
      const held = new WasmTable(table, [new Float32Array(table.length)], dim, RULES[0]!, 'lazy');
      assert.ok(bits(held.array(0)).equals(bits(table)), `dim ${dim}: the table comes back out as it went in`);
      for (const length of [3, 40, 7]) {
        const rows = Int32Array.from({ length }, (_, i) => (i % 5 === 4 ? -1 : [1, 2, rng.int(20)][i % 3]!));
        assert.ok(bits(held.gather(rows)).equals(bits(gatherRows(table, dim, rows))), `dim ${dim}, ${length} rows`);
      }
    }
  });

  it('copies the values in: the arrays it was made from are left alone', () => {
    const table = Float32Array.of(1, 2, 3, 4);
    const held = new WasmTable(table, [new Float32Array(4)], 2, RULES[0]!, 'dense');
    held.step(Int32Array.of(1), Float32Array.of(1, 1), 0.5, 1);
    assert.deepEqual(Array.from(table), [1, 2, 3, 4]);
    assert.deepEqual(Array.from(held.array(0)), [1, 2, 2.5, 3.5]);
    assert.deepEqual(Array.from(held.array(1)), [0, 0, 1, 1]);
  });
});
