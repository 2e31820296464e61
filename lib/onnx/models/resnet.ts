/**
 * Small ResNet (basic blocks, He et al. 2016) for [B, C, H, W] images, with torchvision's parameter names:
 * stem conv1-bn1-ReLU (3×3, stride 1: small images), then one stage per width, each of `blocksPerStage`
 * blocks conv-BN-ReLU-conv-BN plus the skip, then ReLU. Every stage after the first starts with a stride-2
 * block whose skip is a 1×1 stride-2 conv + BN (`downsample`). Global average pooling and a linear head `fc`
 * follow; the embedding is the pooled feature vector. Convs followed by BN have no bias.
 */
import type { Tape } from '../autodiff/tape.js';
import { relu } from '../layers/activations.js';
import { add } from '../layers/add.js';
import { batchNorm } from '../layers/batchnorm.js';
import { conv2d } from '../layers/conv2d.js';
import { linear } from '../layers/linear.js';
import { globalAvgPool } from '../layers/pooling.js';
import { flatten } from '../layers/reshape.js';
import type { ModelDefinition } from './model.js';

export interface ResNetConfig {
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  /** Channels of each stage, e.g. [16, 32, 64]. */
  widths: number[];
  blocksPerStage: number;
}

function convBn(t: Tape, name: string, bn: string, x: string, outChannels: number, kernel: number, stride: number): string {
  const y = conv2d(t, name, x, { outChannels, kernel, stride, padding: (kernel - 1) / 2, bias: false });
  return batchNorm(t, bn, y);
}

function basicBlock(t: Tape, name: string, x: string, outChannels: number, stride: number): string {
  const inChannels = t.shape(x)[1];
  const h = relu(t, convBn(t, `${name}.conv1`, `${name}.bn1`, x, outChannels, 3, stride));
  const main = convBn(t, `${name}.conv2`, `${name}.bn2`, h, outChannels, 3, 1);
  const skip = stride === 1 && inChannels === outChannels ? x
    : convBn(t, `${name}.downsample.0`, `${name}.downsample.1`, x, outChannels, 1, stride);
  return relu(t, add(t, main, skip));
}

export function resnetModel(cfg: ResNetConfig): ModelDefinition {
  if (cfg.widths.length === 0 || cfg.blocksPerStage < 1) throw new Error('resnet: needs at least one stage of one block');
  return {
    architecture: 'resnet',
    inputs: [{ name: 'x', dtype: 'float32', shape: ['B', cfg.channels, cfg.height, cfg.width] }],
    loss: 'softmax-ce',
    outputSize: cfg.numClasses,
    forward(t, { x }) {
      let h = relu(t, convBn(t, 'conv1', 'bn1', x!, cfg.widths[0]!, 3, 1));
      cfg.widths.forEach((width, stage) => {
        for (let b = 0; b < cfg.blocksPerStage; b++) {
          h = basicBlock(t, `layer${stage + 1}.${b}`, h, width, stage > 0 && b === 0 ? 2 : 1);
        }
      });
      const embedding = flatten(t, globalAvgPool(t, h));
      return { output: linear(t, 'fc', embedding, cfg.numClasses), embedding, embeddingSize: cfg.widths.at(-1)! };
    },
  };
}
