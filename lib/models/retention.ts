/** What retention needs to know of a stored model. */
export interface RetainedModel {
  modelId: number;
  pipelineId: number;
  triggerId: number;
  parentModelId: number | null;
  /** True when its files were already deleted: never chosen again. */
  deleted: boolean;
}

export interface RetentionPolicy {
  /** Models kept per pipeline: its last `keep` by trigger. */
  keep: number;
  /** Pipelines whose workflow still runs: the next trigger may fine-tune from their latest model. */
  runningPipelines: ReadonlySet<number>;
}

/**
 * The models whose files may be deleted: every model beyond the last `keep` of its pipeline, except a running
 * pipeline's latest model (the parent its next trigger fine-tunes from) and the parent of a kept model, so each
 * kept model's lineage starts from a model still on disk. Parents are kept one level deep only: followed all the
 * way, a fine-tuned chain would keep every model of the pipeline. Models already deleted are never returned.
 */
export function modelsToDelete(models: readonly RetainedModel[], { keep, runningPipelines }: RetentionPolicy): RetainedModel[] {
  if (!Number.isInteger(keep) || keep < 0) throw new Error(`keep must be a whole number of models, not ${keep}`);
  const byPipeline = new Map<number, RetainedModel[]>();
  for (const model of models) byPipeline.set(model.pipelineId, [...(byPipeline.get(model.pipelineId) ?? []), model]);

  const kept = new Set<number>();
  for (const [pipelineId, own] of byPipeline) {
    const newestFirst = [...own].sort((a, b) => b.triggerId - a.triggerId);
    for (const model of newestFirst.slice(0, keep)) kept.add(model.modelId);
    if (runningPipelines.has(pipelineId)) kept.add(newestFirst[0]!.modelId);
  }
  const parents = models.flatMap((m) => (kept.has(m.modelId) && m.parentModelId !== null ? [m.parentModelId] : []));
  for (const parent of parents) kept.add(parent);
  return models.filter((m) => !m.deleted && !kept.has(m.modelId));
}
