import os from 'node:os';

const LOW_WORD = os.endianness() === 'LE' ? 0 : 1;

/**
 * int32 values as an int64 tensor buffer, written word by word (low word the value, high word its sign):
 * no BigInt is created per element, which matters for the tens of thousands of ids in a batch.
 */
export function widenToInt64(values: Int32Array): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    words[2 * i + LOW_WORD] = v;
    words[2 * i + 1 - LOW_WORD] = v >> 31;
  }
  return out;
}
