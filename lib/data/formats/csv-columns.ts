import { open } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetFormat } from '../dataset-config.js';
import { DataError, IngestError } from '../errors.js';
import { sampleFilesUnder } from '../sample-files.js';
import { csvRecords, quotedList } from './csv.js';

type CsvFormat = Extract<DatasetFormat, { kind: 'csv' }>;

/** Enough for any header; a file whose first record is longer is left to ingestion to check. */
const FIRST_RECORD_BYTES = 1 << 20;

/**
 * Checks a CSV format's labelColumn, featureColumns and timestampColumn against the first record (the header,
 * or the first data row without one) of the root's first CSV file, so a misspelt column shows when the dataset
 * is added rather than as every file quarantined. Throws DataError naming the field, the file and its columns;
 * passes when the root holds no CSV file yet or its first record cannot be read (ingestion reports that file).
 */
export async function checkCsvColumns(datasetName: string, root: string, format: CsvFormat): Promise<void> {
  const [first] = await sampleFilesUnder(root, format);
  if (first === undefined) return;
  const record = await readFirstRecord(format, path.join(root, first), first);
  if (!record) return;
  const fields: [string, string | number | undefined][] = [
    ['format.labelColumn', format.labelColumn],
    ...format.featureColumns.map((c, i): [string, string | number] => [`format.featureColumns[${i}]`, c]),
    ['format.timestampColumn', format.timestampColumn],
  ];
  const header = format.header ? record : undefined;
  for (const [field, c] of fields) {
    if (c === undefined) continue;
    if (typeof c === 'string' && !record.includes(c)) {
      throw new DataError(`dataset "${datasetName}": ${field}: no column named ${JSON.stringify(c)} in the header of ${first} (${quotedList(record)})`);
    }
    if (typeof c === 'number' && c >= record.length) {
      const columns = header ? `: ${quotedList(header)}` : '';
      throw new DataError(`dataset "${datasetName}": ${field}: column index ${c} is out of range; ${first} has ${record.length} columns${columns}`);
    }
  }
}

/** The first record's fields, read from the start of the file; undefined when it cannot be told from there. */
async function readFirstRecord(format: CsvFormat, absolute: string, relative: string): Promise<string[] | undefined> {
  const handle = await open(absolute, 'r');
  let text: string;
  let whole: boolean;
  try {
    const buffer = Buffer.alloc(FIRST_RECORD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    whole = bytesRead < buffer.length;
    text = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // A cut file ends at its last line break, so the first record is not cut short in the middle of a field.
  if (!whole) text = text.slice(0, text.lastIndexOf('\n') + 1);
  try {
    return csvRecords(text, format.separator, format.quote, relative).next().value?.fields;
  } catch (e) {
    if (e instanceof IngestError) return undefined;
    throw e;
  }
}
