import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';

/** Reads a YAML or JSON file (JSON is YAML), naming the file in any error. */
export async function readSpecFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  try {
    return parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid YAML or JSON: ${(err as Error).message}`);
  }
}
