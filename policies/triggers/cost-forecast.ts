/** A past training: how many samples it trained on and how long it took. */
export interface TrainingCost {
  samples: number;
  trainingMs: number;
}

/**
 * Forecasts the training time of `samples` samples from past trainings: an ordinary least-squares line of
 * time on sample count, through the origin when the past cannot fit a line (one training, or all of one
 * size). Null with no history. Never negative.
 */
export function forecastTrainingMs(history: TrainingCost[], samples: number): number | null {
  if (history.length === 0) return null;
  const n = history.length;
  const meanX = history.reduce((a, h) => a + h.samples, 0) / n;
  const meanY = history.reduce((a, h) => a + h.trainingMs, 0) / n;
  const sxx = history.reduce((a, h) => a + (h.samples - meanX) ** 2, 0);
  if (n < 2 || sxx === 0) return meanX === 0 ? meanY : Math.max(0, (meanY / meanX) * samples);
  const slope = history.reduce((a, h) => a + (h.samples - meanX) * (h.trainingMs - meanY), 0) / sxx;
  return Math.max(0, meanY + slope * (samples - meanX));
}
