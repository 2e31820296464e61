/** Drift statistics between a reference and a current window of embeddings (rows = samples). */
export { bonferroni, fdr, type CorrectionResult } from './corrections.js';
export { cvm2samp } from './cvm.js';
export { featureDrift, type FeatureDriftOptions, type FeatureDriftResult, type FeatureTest } from './feature-tests.js';
export { DEFAULT_HELLINGER_BINS, hellinger } from './hellinger.js';
export { kolmogorovSf } from './kolmogorov.js';
export { ks2samp, type TestResult } from './ks.js';
export { matrix, type Matrix } from './matrix.js';
export { meanDistance } from './mean-distance.js';
export { MmdKernel, mmdThreshold, type MmdOptions, type MmdResult } from './mmd.js';
