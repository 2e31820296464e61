import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { featureCount, parseDatasetConfig, type ImageFormat } from '../../lib/data/dataset-config.js';
import { DataError, IngestError } from '../../lib/data/errors.js';
import { featureSource, isSampleFile, picksOf, scanFile, type StoredFile } from '../../lib/data/formats/index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-image-format-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function imageFormat(format: Record<string, unknown>): ImageFormat {
  const { format: parsed } = parseDatasetConfig({ name: 'img', root: dir, format: { kind: 'image', ...format } });
  assert.equal(parsed.kind, 'image');
  return parsed as ImageFormat;
}

/** A 2×2 RGB image: pixel p holds (r, g, b) = rgb[p]. */
async function writeImage(relative: string, rgb: [number, number, number][], type: 'png' | 'jpeg' = 'png'): Promise<StoredFile> {
  const absolute = path.join(dir, relative);
  await mkdir(path.dirname(absolute), { recursive: true });
  const raw = Buffer.from(rgb.flat());
  const image = sharp(raw, { raw: { width: 2, height: 2, channels: 3 } });
  await (type === 'png' ? image.png() : image.jpeg({ quality: 100, chromaSubsampling: '4:4:4' })).toFile(absolute);
  return { fileId: 1, root: dir, absolute, relative, sizeBytes: (await stat(absolute)).size };
}

const PIXELS: [number, number, number][] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];

async function read(format: ImageFormat, file: StoredFile): Promise<number[]> {
  const out = new Float32Array(featureCount(format) * 2);
  await featureSource(format).read(file, picksOf([{ index: 0, row: 1 }]), out);
  return Array.from(out.subarray(featureCount(format)));
}

async function rejection(promise: Promise<unknown>): Promise<IngestError> {
  const error = await promise.then(() => assert.fail('expected an IngestError'), (e: unknown) => e);
  assert.ok(error instanceof IngestError, String(error));
  return error;
}

describe('image dataset config', () => {
  it('fills defaults: 3 channels, mean 0 / std 1 per channel, png and jpeg, numClasses from the classes', () => {
    const f = imageFormat({ height: 32, width: 32, label: { from: 'folder', classes: ['cat', 'dog'] } });
    assert.deepEqual(
      { channels: f.channels, mean: f.mean, std: f.std, extensions: f.extensions, numClasses: f.numClasses },
      { channels: 3, mean: [0, 0, 0], std: [1, 1, 1], extensions: ['.png', '.jpg', '.jpeg'], numClasses: 2 },
    );
    assert.equal(featureCount(f), 3 * 32 * 32);
    assert.deepEqual(imageFormat({ height: 1, width: 1, label: { from: 'sidecar' } }).label, { from: 'sidecar', suffix: '.label' });
  });

  it('names the field of each invalid value', () => {
    const bad = (format: Record<string, unknown>, message: RegExp) =>
      assert.throws(() => parseDatasetConfig({ name: 'img', root: dir, format: { kind: 'image', height: 8, width: 8, label: { from: 'folder' }, ...format } }), message);
    bad({ channels: 2 }, /format\.channels: expected 1 or 3/);
    bad({ height: 0 }, /format\.height: expected a positive integer/);
    bad({ mean: [0.5, 0.5] }, /format\.mean: expected 1 or 3 values/);
    bad({ std: [1, 0, 1] }, /format\.std\[1\]: must be positive/);
    bad({ extensions: ['png'] }, /format\.extensions\[0\]: expected an extension/);
    bad({ label: { from: 'folder', classes: ['a', 'a'] } }, /format\.label\.classes\[1\]: class "a" is listed twice/);
    bad({ label: { from: 'folder', classes: ['a', 'b'] }, numClasses: 1 }, /format\.numClasses: 1 is fewer than the 2 classes/);
    bad({ label: { from: 'sidecar', suffix: 'label' } }, /format\.label\.suffix: expected a file name suffix/);
    bad({ label: { from: 'sidecar', suffix: '.x.png' } }, /format\.label\.suffix: ends with an image extension/);
    bad({ label: { from: 'sidecar' }, timestamp: { from: 'sidecar', suffix: '.label' } }, /format\.timestamp\.suffix: must differ from label\.suffix/);
  });

  it('takes only files with the configured extensions as samples', () => {
    const f = imageFormat({ height: 2, width: 2, label: { from: 'sidecar' }, timestamp: { from: 'sidecar', suffix: '.ts' } });
    assert.deepEqual(['a/x.png', 'x.JPG', 'y.jpeg', 'x.png.label', 'x.png.ts', 'notes.txt'].map((n) => isSampleFile(f, n)), [true, true, true, false, false, false]);
  });
});

describe('image format', () => {
  it('decodes a PNG to normalized float32 CHW', async () => {
    const file = await writeImage('cls/red.png', PIXELS);
    const f = imageFormat({ height: 2, width: 2, mean: [0.5, 0, 0], std: [0.5, 1, 2], label: { from: 'folder', classes: ['cls'] } });
    const x = await read(f, file);
    // Channel planes R, G, B of the pixels in row order; R: (v/255 - 0.5) / 0.5, B: v / 255 / 2.
    assert.deepEqual(x, [1, -1, -1, 1, 0, 1, 0, 1, 0, 0, 0.5, 0.5]);
  });

  it('decodes a JPEG (lossy: within a few levels) and converts to one grey channel', async () => {
    const file = await writeImage('cls/photo.jpg', PIXELS, 'jpeg');
    const rgb = await read(imageFormat({ height: 2, width: 2, label: { from: 'folder', classes: ['cls'] } }), file);
    const expected = [1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1];
    rgb.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 0.1, `value ${i}: ${v}`));
    const grey = await read(imageFormat({ channels: 1, height: 2, width: 2, label: { from: 'folder', classes: ['cls'] } }), file);
    assert.equal(grey.length, 4);
    assert.ok(grey[3]! > 0.9 && grey[0]! < grey[1]!, `grey ${grey}`);
  });

  it('resizes to height × width (fit fill)', async () => {
    const file = await writeImage('cls/big.png', PIXELS);
    const f = imageFormat({ height: 4, width: 6, label: { from: 'folder', classes: ['cls'] } });
    assert.equal((await read(f, file)).length, 3 * 4 * 6);
  });

  it('labels from the class folder: a named class or an integer folder name; timestamps from the mtime', async () => {
    const named = await writeImage('dog/a.png', PIXELS);
    const f = imageFormat({ height: 2, width: 2, label: { from: 'folder', classes: ['cat', 'dog'] } });
    assert.deepEqual(await scanFile(f, named.absolute, named.relative, 1_700_000_000.7), {
      count: 1, labels: Int32Array.of(1), timestamps: Float64Array.of(1_700_000_000),
    });
    const numbered = await writeImage('train/7/a.png', PIXELS);
    const byNumber = imageFormat({ height: 2, width: 2, label: { from: 'folder' }, numClasses: 10 });
    assert.deepEqual(Array.from((await scanFile(byNumber, numbered.absolute, numbered.relative, 0)).labels), [7]);
  });

  it('labels and timestamps from sidecar files', async () => {
    const file = await writeImage('flat/a.png', PIXELS);
    await writeFile(`${file.absolute}.label`, '3\n');
    await writeFile(`${file.absolute}.ts`, ' 1650000000 ');
    const f = imageFormat({ height: 2, width: 2, label: { from: 'sidecar' }, timestamp: { from: 'sidecar', suffix: '.ts' }, numClasses: 5 });
    assert.deepEqual(await scanFile(f, file.absolute, file.relative, 0), { count: 1, labels: Int32Array.of(3), timestamps: Float64Array.of(1_650_000_000) });
  });

  it('rejects each bad sample with its name and reason', async () => {
    const folder = imageFormat({ height: 2, width: 2, label: { from: 'folder', classes: ['cat', 'dog'] } });
    const sidecar = imageFormat({ height: 2, width: 2, label: { from: 'sidecar' }, numClasses: 4 });
    const numbered = imageFormat({ height: 2, width: 2, label: { from: 'folder' }, numClasses: 4 });

    const corrupt = path.join(dir, 'cat/corrupt.png');
    await mkdir(path.dirname(corrupt), { recursive: true });
    await writeFile(corrupt, 'this is not a PNG');
    let e = await rejection(scanFile(folder, corrupt, 'cat/corrupt.png', 0));
    assert.equal(e.file, 'cat/corrupt.png');
    assert.match(e.message, /^cat\/corrupt\.png: image does not decode: /);

    const truncated = await writeImage('cat/truncated.jpg', PIXELS, 'jpeg');
    const whole = await readFile(truncated.absolute);
    await writeFile(truncated.absolute, whole.subarray(0, whole.length - 20));
    assert.match((await rejection(scanFile(folder, truncated.absolute, truncated.relative, 0))).message, /truncated\.jpg: image does not decode/);

    const bird = await writeImage('bird/a.png', PIXELS);
    e = await rejection(scanFile(folder, bird.absolute, bird.relative, 0));
    assert.match(e.message, /bird\/a\.png: unknown class folder "bird"/);
    const top = await writeImage('top.png', PIXELS);
    assert.match((await rejection(scanFile(folder, top.absolute, top.relative, 0))).message, /top\.png: not in a class folder/);
    const named = await writeImage('nine/a.png', PIXELS);
    assert.match((await rejection(scanFile(numbered, named.absolute, named.relative, 0))).message, /class folder "nine" is not an integer/);
    const big = await writeImage('9/a.png', PIXELS);
    assert.match((await rejection(scanFile(numbered, big.absolute, big.relative, 0))).message, /9\/a\.png: label 9 out of range \[0, 4\)/);

    const lonely = await writeImage('side/lonely.png', PIXELS);
    e = await rejection(scanFile(sidecar, lonely.absolute, lonely.relative, 0));
    assert.match(e.message, /side\/lonely\.png: missing label file side\/lonely\.png\.label/);
    const garbled = await writeImage('side/garbled.png', PIXELS);
    await writeFile(`${garbled.absolute}.label`, 'cat');
    e = await rejection(scanFile(sidecar, garbled.absolute, garbled.relative, 0));
    assert.equal(e.line, 1);
    assert.match(e.message, /line 1: label file side\/garbled\.png\.label holds "cat", not an integer/);
    const high = await writeImage('side/high.png', PIXELS);
    await writeFile(`${high.absolute}.label`, '4');
    assert.match((await rejection(scanFile(sidecar, high.absolute, high.relative, 0))).message, /label 4 out of range \[0, 4\)/);
    const escaping = await writeImage('side/escaping.png', PIXELS);
    await writeFile(path.join(os.tmpdir(), 'tideline-outside.label'), '1');
    await symlink(path.join(os.tmpdir(), 'tideline-outside.label'), `${escaping.absolute}.label`);
    assert.match((await rejection(scanFile(sidecar, escaping.absolute, escaping.relative, 0))).message, /label file side\/escaping\.png\.label is a symlink/);
    await rm(path.join(os.tmpdir(), 'tideline-outside.label'));
  });

  it('serves cached pixels at once, and leaves anything else (not cached, changed, missing) to read', async () => {
    const f = imageFormat({ height: 2, width: 2, label: { from: 'folder', classes: ['cls'] } });
    const source = featureSource(f);
    const now = (file: StoredFile) => {
      const out = new Float32Array(featureCount(f) * 2);
      return source.readNow!(file, picksOf([{ index: 0, row: 1 }]), out) && Array.from(out.subarray(featureCount(f)));
    };
    const file = await writeImage('cls/now.png', PIXELS);
    assert.equal(now(file), false, 'not decoded yet');
    const decoded = await read(f, file);
    assert.deepEqual(now(file), decoded);
    assert.equal(now({ ...file, sizeBytes: file.sizeBytes + 1 }), false);
    const rewritten = await writeImage('cls/now.png', [[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 255]]);
    assert.equal(rewritten.sizeBytes, file.sizeBytes);
    assert.equal(now(rewritten), false);
    await rm(rewritten.absolute);
    assert.equal(now(rewritten), false);
  });

  it('serves a rewritten image freshly decoded, never from the cache; refuses one whose size changed', async () => {
    const f = imageFormat({ height: 2, width: 2, label: { from: 'folder', classes: ['cls'] } });
    const file = await writeImage('cls/changing.png', PIXELS);
    assert.equal((await read(f, file))[0], 1);
    const swapped: [number, number, number][] = [[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 255, 255]];
    const rewritten = await writeImage('cls/changing.png', swapped);
    assert.equal(rewritten.sizeBytes, file.sizeBytes, 'same size, so only the identity check can tell');
    assert.equal((await read(f, rewritten))[0], 0);
    await assert.rejects(read(f, { ...rewritten, sizeBytes: rewritten.sizeBytes + 1 }), DataError);
  });
});
