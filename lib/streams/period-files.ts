import { access, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `period-07.bin`: zero-padded to the digits of the last period (at least 2), so that names sort in period order. */
export function periodFile(period: number, periods: number): string {
  return `period-${String(period).padStart(Math.max(2, String(periods - 1).length), '0')}.bin`;
}

/**
 * Writes each period's content to `dir` as periodFile, skipping files that exist: a file appears whole (written
 * aside, then renamed), so one that exists is a finished earlier write of the same content. When every file
 * exists nothing is generated. Returns the file names in period order.
 */
export async function writePeriodFiles(dir: string, periods: number, contents: () => AsyncIterable<Buffer>): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names = Array.from({ length: periods }, (_, p) => periodFile(p, periods));
  const exists = await Promise.all(names.map((name) => access(join(dir, name)).then(() => true, () => false)));
  if (exists.every(Boolean)) return names;
  let period = 0;
  for await (const content of contents()) {
    if (period >= periods) throw new Error(`the stream yielded more than ${periods} periods`);
    const path = join(dir, names[period]!);
    if (!exists[period]) {
      await writeFile(`${path}.partial`, content);
      await rename(`${path}.partial`, path);
    }
    period++;
  }
  if (period !== periods) throw new Error(`the stream yielded ${period} periods, expected ${periods}`);
  return names;
}
