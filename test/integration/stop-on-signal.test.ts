import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../helpers/servers-until-signal.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('test servers of a process that ends early', () => {
  for (const end of ['SIGTERM', 'SIGINT', 'an uncaught error'] as const) {
    it(`stops the PostgreSQL and dev server of a test process ended by ${end}, and removes the cluster's data`, async () => {
      const crash = end === 'an uncaught error';
      const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...(crash ? ['crash'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stderr.on('data', (d) => (output += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const started = await new Promise<{ postmaster: number; dataDir: string; devServer: number }>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          output += d;
          const line = output.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line));
        });
        void exited.then((code) => reject(new Error(`exited with ${code} before starting its servers:\n${output}`)));
      });
      assert.ok(alive(started.postmaster) && alive(started.devServer));
      if (!crash) child.kill(end);
      assert.equal(await exited, { SIGTERM: 143, SIGINT: 130, 'an uncaught error': 1 }[end], output);
      // The dev server is killed on the process's exit; PostgreSQL is stopped and its files removed.
      for (let i = 0; i < 100 && (alive(started.postmaster) || alive(started.devServer)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(started.devServer), false, 'dev server still running');
      assert.equal(alive(started.postmaster), false, 'PostgreSQL still running');
      assert.equal(existsSync(started.dataDir), false, `${started.dataDir} still there`);
    });
  }
});
