/**
 * Where checkpoints fall: after every `every` steps of a trainModel call (0 = never). A run of several steps
 * never crosses a checkpoint, so checkpoints fall on exactly the steps they would without grouping, and a
 * resumed call continues from exactly the state single steps would have left.
 */

/** Most steps the next run may take after `stepsDone`: `stepsPerRun`, cut short by the next checkpoint. */
export function stepsBeforeCheckpoint(every: number, stepsDone: number, stepsPerRun: number): number {
  return every > 0 ? Math.min(stepsPerRun, every - (stepsDone % every)) : stepsPerRun;
}

export function checkpointDue(every: number, stepsDone: number): boolean {
  return every > 0 && stepsDone % every === 0;
}
