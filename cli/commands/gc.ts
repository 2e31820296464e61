import { WorkflowNotFoundError } from '@temporalio/client';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { modelsToDelete } from '../../lib/models/retention.js';
import { ModelStore } from '../../lib/models/store.js';
import { listAllModels, markModelsDeleted } from '../../lib/pipelines/models.js';
import { getPipeline } from '../../lib/pipelines/registry.js';
import { formatBytes } from '../bytes.js';
import { openContext, type Context } from '../context.js';

/** Models a pipeline keeps when `--keep` is not given. */
const DEFAULT_KEEP = 5;

export interface GcOptions {
  keep: number;
  dryRun: boolean;
  /** Pipelines whose workflow still runs (see modelsToDelete). */
  runningPipelines: ReadonlySet<number>;
}

export interface DeletedModel {
  modelId: number;
  pipelineId: number;
  triggerId: number;
  bytes: number;
}

/**
 * Deletes the files of the models retention gives up, then marks their rows; a run cut short leaves rows
 * unmarked whose files may be gone, and the next run deletes (0 bytes) and marks them. A dry run only measures.
 */
export async function collectGarbage(pool: pg.Pool, store: ModelStore, options: GcOptions): Promise<DeletedModel[]> {
  const models = await listAllModels(pool);
  const doomed = modelsToDelete(models.map((m) => ({ ...m, deleted: m.deletedAt !== null })), options);
  const byId = new Map(models.map((m) => [m.modelId, m]));
  const deleted: DeletedModel[] = [];
  for (const { modelId, pipelineId, triggerId } of doomed) {
    const { onnxPath, statePath } = byId.get(modelId)!;
    let bytes = 0;
    for (const path of [onnxPath, statePath]) bytes += options.dryRun ? await store.fileSize(path) : await store.removeFile(path);
    deleted.push({ modelId, pipelineId, triggerId, bytes });
  }
  if (!options.dryRun && deleted.length > 0) await markModelsDeleted(pool, deleted.map((d) => d.modelId));
  return deleted;
}

/** The pipelines whose workflow runs now; a pipeline's workflow id is its name. */
async function runningPipelines(ctx: Context, names: Map<number, string>): Promise<Set<number>> {
  const running = new Set<number>();
  for (const [pipelineId, name] of names) {
    const description = await ctx.client.workflow.getHandle(name).describe().catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    if (description?.status.name === 'RUNNING') running.add(pipelineId);
  }
  return running;
}

/** `tide gc [--keep N] [--dry-run]`: deletes the files of all but each pipeline's last N models, and says what it freed. */
export async function gc(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, options: { keep: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  });
  const keep = values.keep === undefined ? DEFAULT_KEEP : Number(values.keep);
  if (positionals.length > 0 || !Number.isInteger(keep) || keep < 0) throw new Error(`usage: tide gc [--keep N] [--dry-run]  (N a whole number, default ${DEFAULT_KEEP})`);
  const dryRun = values['dry-run'];
  const ctx = await openContext();
  try {
    const names = new Map<number, string>();
    for (const { pipelineId } of await listAllModels(ctx.pool)) {
      if (!names.has(pipelineId)) names.set(pipelineId, (await getPipeline(ctx.pool, pipelineId))?.name ?? `#${pipelineId}`);
    }
    const store = new ModelStore(ctx.config.storeDir);
    const deleted = await collectGarbage(ctx.pool, store, { keep, dryRun, runningPipelines: await runningPipelines(ctx, names) });
    for (const d of deleted) console.log(`  ${names.get(d.pipelineId)} trigger ${d.triggerId} (model ${d.modelId}): ${formatBytes(d.bytes)}`);
    const total = formatBytes(deleted.reduce((sum, d) => sum + d.bytes, 0));
    console.log(dryRun
      ? `Would free ${total} from ${deleted.length} models (dry run: nothing deleted).`
      : `Freed ${total} from ${deleted.length} models.`);
  } finally {
    await ctx.close();
  }
}
