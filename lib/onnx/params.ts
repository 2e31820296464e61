/** Trainable parameter declarations shared by every model builder. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** Inputs feeding each output unit; scales the initialization. */
  fanIn: number;
  init: 'kaiming-uniform' | 'zeros';
}

export function paramSize(spec: ParamSpec): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}
