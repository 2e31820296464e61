import { activityInfo } from '@temporalio/activity';
import type { BatchDescriptor } from '../policies/batches.js';
import type { PipelineSpec } from '../policies/spec.js';
import { listBatches, splitBatch } from '../lib/data/batches.js';
import { featureCount } from '../lib/data/dataset-config.js';
import { registerPipelinePartition } from '../lib/data/selection.js';
import { ModelStore } from '../lib/models/store.js';
import { recordPolicyEvaluations } from '../lib/pipelines/policy-evaluations.js';
import { PipelineNameTaken, upsertPipeline } from '../lib/pipelines/registry.js';
import type { PolicyEvaluation } from '../policies/triggers/protocol.js';
import type { ActivityDeps } from './deps.js';
import { configurationError } from './failures.js';
import { checkPipelineSpec } from './pipeline-checks.js';

export interface RegisteredPipeline {
  pipelineId: number;
  datasetId: number;
  features: number;
}

/** Pipeline bookkeeping and data discovery; runs on the cpu task queue. */
export function pipelineActivities({ pool, storeDir }: ActivityDeps) {
  const store = new ModelStore(storeDir);
  return {
    /** Checks the spec against the data plane and records the pipeline (idempotent). */
    async registerPipeline(args: { name: string; spec: PipelineSpec }): Promise<RegisteredPipeline> {
      const { dataset } = await checkPipelineSpec(pool, store, args.spec);
      const format = dataset.format;
      // Registration happens in a pipeline's first run, so this run id names the pipeline's run for good.
      const runId = activityInfo().workflowExecution?.runId;
      if (!runId) throw new Error('registerPipeline runs as an activity of a pipeline workflow');
      const row = await upsertPipeline(pool, args.name, runId, dataset.id, args.spec).catch((err: unknown) => {
        throw err instanceof PipelineNameTaken ? configurationError('InvalidSpec', err.message) : err;
      });
      await registerPipelinePartition(pool, row.pipelineId);
      return { pipelineId: row.pipelineId, datasetId: dataset.id, features: featureCount(format) };
    },

    /** Batches committed after `afterKey`: how a pipeline that starts late, or missed a signal, catches up. */
    async listNewBatches(args: { datasetId: number; afterKey: number; limit: number }): Promise<BatchDescriptor[]> {
      return listBatches(pool, args.datasetId, args.afterKey, args.limit);
    },

    /** Stores evaluations of the trigger policy (idempotent: keyed by policy and interval). */
    async recordPolicyEvaluations(args: { pipelineId: number; evaluations: PolicyEvaluation[] }): Promise<void> {
      await recordPolicyEvaluations(pool, args.pipelineId, args.evaluations);
    },

    /** Splits a batch at sample-time boundaries a trigger policy asked for. */
    async splitBatch(args: { batch: BatchDescriptor; boundaries: number[] }): Promise<BatchDescriptor[]> {
      return splitBatch(pool, args.batch, args.boundaries);
    },
  };
}
