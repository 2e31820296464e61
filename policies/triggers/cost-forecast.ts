/** A past training: how many samples it trained on and how long it took. */
export interface TrainingCost {
  samples: number;
  trainingMs: number;
}

/**
 * Sizes closer together than this (their standard deviation over their mean) fit no line: the slope would be the
 * timing noise between trainings of about one size, and an extrapolation to another size anything at all.
 */
const MIN_SIZE_SPREAD = 0.1;

/**
 * Forecasts the training time of `samples` samples from past trainings: an ordinary least-squares line of
 * time on sample count, or time proportional to samples (a line through the origin and the means) when the past
 * cannot fit a line: one training, sizes too close together, or a line along which time falls as samples grow.
 * Null with no history. Never negative.
 */
export function forecastTrainingMs(history: TrainingCost[], samples: number): number | null {
  if (history.length === 0) return null;
  const n = history.length;
  const meanX = history.reduce((a, h) => a + h.samples, 0) / n;
  const meanY = history.reduce((a, h) => a + h.trainingMs, 0) / n;
  const sxx = history.reduce((a, h) => a + (h.samples - meanX) ** 2, 0);
  const proportional = () => (meanX === 0 ? meanY : Math.max(0, (meanY / meanX) * samples));
  if (n < 2 || Math.sqrt(sxx / n) < MIN_SIZE_SPREAD * meanX) return proportional();
  const slope = history.reduce((a, h) => a + (h.samples - meanX) * (h.trainingMs - meanY), 0) / sxx;
  return slope <= 0 ? proportional() : Math.max(0, meanY + slope * (samples - meanX));
}
