/** What one finished pipeline of an experiment measured: the two numbers that compare pipelines, accuracy and cost. */
export interface RunFigures {
  /** Mean over evaluation intervals of the composite model's accuracy; null when nothing was evaluated. */
  meanCompositeAccuracy: number | null;
  triggers: number;
  samplesTrained: number;
  /** Samples the training steps processed: epochs count a sample again, and downsampling counts only its picks. */
  samplesProcessed: number;
  trainingSeconds: number;
  /** Wall time of the pipeline workflow, from its start to its close. */
  totalSeconds: number;
}

export type RunResult = { variant: string; seed: number; pipelineName: string } & (
  | { outcome: 'completed'; figures: RunFigures }
  | { outcome: 'failed'; message: string }
);

/** Mean and sample standard deviation (n − 1; 0 for one value). */
export interface Stat {
  mean: number;
  std: number;
}

/** One line of the experiment's table: a variant's figures over its completed seeds. */
export interface VariantRow {
  variant: string;
  seeds: number[];
  completed: number;
  failed: { seed: number; message: string }[];
  /** Over the completed seeds with an evaluated composite; null when there are none. */
  meanCompositeAccuracy: Stat | null;
  /** The cost columns, over the completed seeds; null when none completed. */
  triggers: Stat | null;
  samplesTrained: Stat | null;
  samplesProcessed: Stat | null;
  trainingSeconds: Stat | null;
  totalSeconds: Stat | null;
}

export function stat(values: number[]): Stat | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const squares = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(squares / (values.length - 1)) : 0 };
}

/** One row per variant, in the order of the runs (the file's). */
export function variantTable(runs: RunResult[]): VariantRow[] {
  const variants = [...new Set(runs.map((r) => r.variant))];
  return variants.map((variant) => {
    const own = runs.filter((r) => r.variant === variant);
    const done = own.flatMap((r) => (r.outcome === 'completed' ? [r.figures] : []));
    const column = (pick: (f: RunFigures) => number | null) => stat(done.map(pick).filter((v): v is number => v !== null));
    return {
      variant,
      seeds: own.map((r) => r.seed),
      completed: done.length,
      failed: own.flatMap((r) => (r.outcome === 'failed' ? [{ seed: r.seed, message: r.message }] : [])),
      meanCompositeAccuracy: column((f) => f.meanCompositeAccuracy),
      triggers: column((f) => f.triggers),
      samplesTrained: column((f) => f.samplesTrained),
      samplesProcessed: column((f) => f.samplesProcessed),
      trainingSeconds: column((f) => f.trainingSeconds),
      totalSeconds: column((f) => f.totalSeconds),
    };
  });
}
