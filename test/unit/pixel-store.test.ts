import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { featureCount, parseDatasetConfig, type ImageFormat } from '../../lib/data/dataset-config.js';
import { portableIdentity } from '../../lib/data/formats/file-identity.js';
import { featureSource, picksOf, scanFile, type StoredFile } from '../../lib/data/formats/index.js';
import { clearPixelCache } from '../../lib/data/formats/pixel-cache.js';
import { readStoredPixels, storeEntry, writeStoredPixels } from '../../lib/data/formats/pixel-store.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-pixel-store-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
// Each test reads as a process that did not ingest: only the store can save it a decode.
beforeEach(clearPixelCache);

function imageFormat(format: Record<string, unknown>): ImageFormat {
  const { format: parsed } = parseDatasetConfig({ name: 'img', root: dir, format: { kind: 'image', height: 2, width: 2, label: { from: 'folder', classes: ['cls'] }, ...format } });
  return parsed as ImageFormat;
}

type Rgb = [number, number, number];
const PIXELS: Rgb[] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
/** Same PNG size as PIXELS (the same colours in another order), so only the mtime tells them apart. */
const SWAPPED: Rgb[] = [[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 255]];

async function writeImage(relative: string, rgb: Rgb[]): Promise<StoredFile> {
  const absolute = path.join(dir, relative);
  await mkdir(path.dirname(absolute), { recursive: true });
  await sharp(Buffer.from(rgb.flat()), { raw: { width: 2, height: 2, channels: 3 } }).png().toFile(absolute);
  return { fileId: 1, root: dir, absolute, relative, sizeBytes: (await stat(absolute)).size };
}

async function ingest(format: ImageFormat, file: StoredFile): Promise<void> {
  await scanFile(format, file.absolute, file.relative, 0);
  clearPixelCache();
}

async function read(format: ImageFormat, file: StoredFile): Promise<number[]> {
  const out = new Float32Array(featureCount(format));
  await featureSource(format).read(file, picksOf([{ index: 0, row: 0 }]), out);
  return Array.from(out);
}

/** The stored entry's pixels if it is valid for the file as it is now. */
async function stored(format: ImageFormat, file: StoredFile): Promise<number[] | undefined> {
  const identity = portableIdentity(await stat(file.absolute, { bigint: true }));
  const pixels = await readStoredPixels(storeEntry(format, file.absolute, file.relative), format, identity);
  return pixels && Array.from(pixels);
}

const RGB_HWC = PIXELS.flat();
const RGB_CHW = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1];

describe('pixel store', () => {
  it('is written at ingestion in a dot-folder of the root and serves a reader whose memory cache is empty', async () => {
    const f = imageFormat({});
    const file = await writeImage('cls/a.png', PIXELS);
    await ingest(f, file);
    const entry = storeEntry(f, file.absolute, file.relative);
    assert.equal(entry.path, path.join(dir, '.tideline-pixels', '3x2x2', 'cls', 'a.png.px'));
    assert.equal(entry.root, dir);
    assert.deepEqual(await stored(f, file), RGB_HWC);
    assert.deepEqual(await read(f, file), RGB_CHW);
    // What the reader got came from the entry: one holding other pixels for the same file version is served as is.
    clearPixelCache();
    const identity = portableIdentity(await stat(file.absolute, { bigint: true }));
    await writeStoredPixels(entry, f, identity, Uint8Array.from(SWAPPED.flat()));
    assert.deepEqual((await read(f, file)).slice(0, 4), [0, 0, 1, 1]);
  });

  it('decodes and rewrites an entry whose source was rewritten (same size, new mtime) or whose settings changed', async () => {
    const f = imageFormat({});
    const file = await writeImage('cls/changing.png', PIXELS);
    await ingest(f, file);
    const rewritten = await writeImage('cls/changing.png', SWAPPED);
    assert.equal(rewritten.sizeBytes, file.sizeBytes);
    const later = new Date(Date.now() + 5000);
    await utimes(file.absolute, later, later);
    assert.equal(await stored(f, rewritten), undefined, 'the entry is of the old version');
    assert.deepEqual((await read(f, rewritten)).slice(0, 4), [0, 0, 1, 1]);
    assert.deepEqual(await stored(f, rewritten), SWAPPED.flat(), 'rewritten for the new version');

    clearPixelCache();
    const grey = imageFormat({ channels: 1 });
    const x = await read(grey, rewritten);
    assert.equal(x.length, 4);
    assert.ok(x[3]! > 0.99 && x[0]! < x[1]!, `grey ${x}`);
    assert.equal((await stored(grey, rewritten))?.length, 4, 'an entry of its own');
    assert.equal((await read(imageFormat({ height: 4, width: 6 }), rewritten)).length, 3 * 4 * 6);

    // The header names the settings too: an entry of 2×4 pixels where one of 4×2 belongs is not served.
    const wide = imageFormat({ height: 2, width: 4 });
    const tall = imageFormat({ height: 4, width: 2 });
    await read(wide, rewritten);
    const tallEntry = storeEntry(tall, rewritten.absolute, rewritten.relative).path;
    await mkdir(path.dirname(tallEntry), { recursive: true });
    await copyFile(storeEntry(wide, rewritten.absolute, rewritten.relative).path, tallEntry);
    assert.equal(await stored(tall, rewritten), undefined);
  });

  it('ignores a truncated, padded or corrupted entry and rewrites it', async () => {
    const f = imageFormat({});
    const file = await writeImage('cls/damaged.png', PIXELS);
    await ingest(f, file);
    const entry = storeEntry(f, file.absolute, file.relative).path;
    const whole = await readFile(entry);
    const damages: [string, Buffer][] = [
      ['truncated', whole.subarray(0, whole.length - 1)],
      ['padded', Buffer.concat([whole, Buffer.of(0)])],
      ['a pixel flipped', Buffer.from(whole.map((v, i) => (i === whole.length - 2 ? v ^ 0xff : v)))],
      ['another magic', Buffer.from(whole.map((v, i) => (i === 0 ? v ^ 1 : v)))],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [damage, bytes] of damages) {
      clearPixelCache();
      await writeFile(entry, bytes);
      assert.equal(await stored(f, file), undefined, damage);
      assert.deepEqual(await read(f, file), RGB_CHW, damage);
      assert.deepEqual(await readFile(entry), whole, `${damage}: rewritten`);
    }
  });

  it('is not written with pixelStore: false', async () => {
    const f = imageFormat({ pixelStore: false });
    const file = await writeImage('cls/unstored.png', PIXELS);
    await ingest(f, file);
    await assert.rejects(stat(storeEntry(f, file.absolute, file.relative).path), { code: 'ENOENT' });
    assert.deepEqual(await read(f, file), RGB_CHW);
    assert.throws(() => imageFormat({ pixelStore: 'no' }), /format\.pixelStore: expected true or false/);
  });
});
