/**
 * Small CNN for [B, C, H, W] images in the spirit of Modyn's YearbookNet: per block a 3×3 conv (padding 1),
 * 2×2 max pool and ReLU, then global average pooling and a linear head `fc`. Pooling before the ReLU equals
 * ReLU-then-pool (max commutes with the monotone ReLU) and applies the ReLU mask on a 4× smaller tensor.
 * The embedding is the pooled feature vector.
 */
import { relu } from '../layers/activations.js';
import { conv2d } from '../layers/conv2d.js';
import { linear } from '../layers/linear.js';
import { globalAvgPool, maxPool2d } from '../layers/pooling.js';
import { flatten } from '../layers/reshape.js';
import type { ModelDefinition } from './model.js';

export interface CnnConfig {
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  /** Output channels of each conv block; default [32, 32]. Each block halves the spatial size. */
  filters?: number[];
}

export function cnnModel(cfg: CnnConfig): ModelDefinition {
  const filters = cfg.filters ?? [32, 32];
  if (Math.min(cfg.height, cfg.width) < 2 ** filters.length) {
    throw new Error(`cnn: ${cfg.height}×${cfg.width} images are too small for ${filters.length} pooling blocks`);
  }
  return {
    architecture: 'cnn',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', cfg.channels, cfg.height, cfg.width] }],
    loss: 'softmax-ce',
    outputSize: cfg.numClasses,
    forward(t, { x }) {
      let h = x!;
      filters.forEach((outChannels, i) => {
        h = relu(t, maxPool2d(t, conv2d(t, `conv${i + 1}`, h, { outChannels, kernel: 3, padding: 1 }), { kernel: 2 }));
      });
      const embedding = flatten(t, globalAvgPool(t, h));
      return { output: linear(t, 'fc', embedding, cfg.numClasses), embedding, embeddingSize: filters.at(-1)! };
    },
  };
}
