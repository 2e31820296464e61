/** How the benchmarks time a piece of work and summarise its rounds. */

/** A figure over rounds: the median, with the lowest and highest round. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export async function timedMs(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function spread(values: number[], digits: number): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round(median, digits), min: round(sorted[0]!, digits), max: round(sorted.at(-1)!, digits) };
}

export function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}
