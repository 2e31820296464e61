import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { IngestError } from '../errors.js';

const INTEGER = /^\s*[+-]?\d+\s*$/;
const MAX_SIDECAR_BYTES = 4096;

/**
 * The integer in `<sample><suffix>` next to a sample file. The sidecar sits in the sample's (already
 * root-checked) folder and is opened without following symlinks, so it cannot lead outside the root.
 * A missing, unreadable or non-integer sidecar rejects the sample (`what` names the value in messages).
 */
export async function readSidecarInteger(absolute: string, relative: string, suffix: string, what: string): Promise<number> {
  const name = `${relative}${suffix}`;
  let text: string;
  try {
    const handle = await open(`${absolute}${suffix}`, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size > MAX_SIDECAR_BYTES) throw new IngestError(relative, `${what} file ${name} is not a small regular file`);
      text = (await handle.readFile()).toString('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof IngestError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IngestError(relative, `missing ${what} file ${name}`);
    if (code === 'ELOOP') throw new IngestError(relative, `${what} file ${name} is a symlink`);
    throw new IngestError(relative, `cannot read ${what} file ${name}: ${(e as Error).message}`);
  }
  if (!INTEGER.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new IngestError(relative, `${what} file ${name} holds ${JSON.stringify(text.slice(0, 40))}, not an integer`, { line: 1 });
  }
  return Number(text);
}
