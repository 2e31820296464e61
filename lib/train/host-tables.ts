/**
 * How the trainer drives a model's host tables (layers/host-embedding.ts): the per-run instructions that make the
 * session worker gather each table's rows before a step and apply the optimizer (dense or row-sparse) after it.
 */
import type { HostTable } from '../onnx/autodiff/tape.js';
import { rowsGradOutput } from '../onnx/models/build.js';
import { optimizerStateNames, paramGroupOf, type OptimizerConfig } from '../onnx/optimizers.js';
import type { TableRule } from '../onnx/session-host-tables.js';
import type { HostTableRun } from '../onnx/session-host.js';

/** The worker-side counterpart of `opt` for a table whose (group's) weight decay is `weightDecay`. */
export function tableRule(opt: OptimizerConfig, weightDecay: number): TableRule {
  return opt.name === 'sgd'
    ? { name: 'sgd', momentum: opt.momentum, nesterov: opt.nesterov ?? false, weightDecay }
    : { name: opt.name, beta1: opt.beta1, beta2: opt.beta2, eps: opt.eps, weightDecay };
}

/**
 * One HostTableRun per table: its parameter group's learning-rate feed and weight decay, its optimizer state. Frozen:
 * the session host sends a list once and names it by id after (RunOptions.tables).
 */
export function hostTableRuns(tables: HostTable[], opt: OptimizerConfig): readonly HostTableRun[] {
  return Object.freeze(tables.map((h) => {
    const [vocab, dim] = h.param.shape as [number, number];
    const { lrInput, weightDecay } = paramGroupOf(opt, h.param.name);
    return Object.freeze({
      table: h.param.name, vocab, dim, ids: h.source.input, source: h.source, rows: h.rows, grad: rowsGradOutput(h),
      rule: tableRule(opt, weightDecay), update: h.update, states: optimizerStateNames(h.param.name, opt), lr: lrInput, step: 'step',
    });
  }));
}

/** Names of the host tables and their optimizer state: stored in the worker, but neither fed to nor output by the graph. */
export function hostTensorNames(tables: HostTable[], opt: OptimizerConfig): Set<string> {
  return new Set(tables.flatMap((h) => [h.param.name, ...optimizerStateNames(h.param.name, opt)]));
}
