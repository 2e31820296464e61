import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileStatus } from '../../lib/data/formats/file-status.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tideline-file-status-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileStatus', () => {
  it('gives what stat gives, and rejects a missing file as stat does', async () => {
    const file = path.join(dir, 'a.png');
    await writeFile(file, 'abc');
    const status = new FileStatus();
    for (let i = 0; i < 3; i++) {
      const [got, expected] = await Promise.all([status.of(file), stat(file)]);
      assert.deepEqual([got.ino, got.size, got.mtimeMs, got.ctimeMs], [expected.ino, expected.size, expected.mtimeMs, expected.ctimeMs]);
    }
    await assert.rejects(status.of(path.join(dir, 'missing.png')), { code: 'ENOENT' });
  });
});
