import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const TIDE = fileURLToPath(new URL('../../cli/tide.ts', import.meta.url));

/**
 * One `tide worker --role <role>` process, as a host would run it, that a fault can SIGKILL. `restart` is what a
 * supervisor (systemd, Kubernetes) does after a crash: a fresh process on the same queues and store.
 */
export class WorkerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');
  /** Processes this role has had: 1 + the restarts. */
  starts = 0;

  /** Whether the current process has created its worker, so it polls (`tide worker` says so on stdout). */
  ready = false;

  constructor(readonly role: 'control' | 'gpu', private readonly env: NodeJS.ProcessEnv, logFile: string) {
    this.log = createWriteStream(logFile, { flags: 'a' });
    // A test process that dies must not leave workers polling behind it.
    process.on('exit', this.killOnExit);
  }

  start(): void {
    if (this.child) throw new Error(`the ${this.role} worker is already running`);
    const child = spawn(process.execPath, ['--import', 'tsx', TIDE, 'worker', '--role', this.role], {
      env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    this.ready = false;
    this.log.write(`--- ${this.role} worker ${this.starts} (pid ${child.pid})\n`);
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.log.write(`${line}\n`);
        if (this.child === child && /Starting \w+ worker: done/.test(line)) this.ready = true;
      });
    }
    this.exited = new Promise((resolveExit) => child.once('exit', () => resolveExit()));
  }

  /** Resolves once the current process polls. */
  async whenReady(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready) {
      if (Date.now() > deadline) throw new Error(`the ${this.role} worker did not start within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL, no cleanup, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.ready = false;
    child?.kill('SIGKILL');
    await this.exited;
  }

  /** A crash and the supervisor's restart. */
  async restart(): Promise<void> {
    await this.kill();
    this.start();
  }

  /** A graceful stop (SIGTERM: the worker drains), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    this.child = undefined;
    process.off('exit', this.killOnExit);
    if (child) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    this.log.end();
  }
}
