/**
 * How long the main thread's event loop is held up while a measurement runs, told apart by cause:
 * - `p99Ms`, `maxMs`: event-loop delay (wall time a 1 ms timer fires late), whatever the cause;
 * - `maxBusyMs`: the longest the main thread ran without the loop getting back to its timers (its own CPU
 *   time over that stretch, from Linux's per-thread scheduler statistics): code that blocks, or GC;
 * - `maxGcMs`: the longest garbage-collection pause.
 * The difference between a delay and the CPU time in it is time the thread was ready but waiting for a core,
 * which on a 2-core machine shared with the training session and PostgreSQL is most of the delay.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export interface MainThreadStalls {
  p99Ms: number;
  maxMs: number;
  /** Absent where the OS has no per-thread scheduler statistics. */
  maxBusyMs?: number;
  maxGcMs: number;
}

/** Starts watching; the returned function stops and reports. */
export function watchMainThread(): () => MainThreadStalls {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let maxGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) maxGcMs = Math.max(maxGcMs, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const cpu = threadCpuClock();
  let maxBusyMs = 0;
  let timer: NodeJS.Timeout | undefined;
  if (cpu) {
    let last = cpu.read();
    const tick = () => {
      const now = cpu.read();
      maxBusyMs = Math.max(maxBusyMs, now - last);
      last = now;
      timer = setTimeout(tick, 1);
    };
    timer = setTimeout(tick, 1);
  }
  return () => {
    histogram.disable();
    gc.disconnect();
    clearTimeout(timer);
    cpu?.close();
    return {
      p99Ms: round(histogram.percentile(99) / 1e6),
      maxMs: round(histogram.max / 1e6),
      ...(cpu && { maxBusyMs: round(maxBusyMs) }),
      maxGcMs: round(maxGcMs),
    };
  };
}

/** The worst of several reports, field by field. */
export function worstStalls(reports: MainThreadStalls[]): MainThreadStalls {
  const max = (pick: (r: MainThreadStalls) => number | undefined) => Math.max(...reports.map((r) => pick(r) ?? 0));
  const busy = reports.every((r) => r.maxBusyMs !== undefined);
  return {
    p99Ms: max((r) => r.p99Ms), maxMs: max((r) => r.maxMs), ...(busy && { maxBusyMs: max((r) => r.maxBusyMs) }), maxGcMs: max((r) => r.maxGcMs),
  };
}

/**
 * CPU time of the main thread in ms, read from /proc/self/task/<pid>/schedstat (its first field, ns).
 * Between two ticks of a 1 ms timer it is the work of one event-loop turn (plus the tick itself).
 */
function threadCpuClock(): { read(): number; close(): void } | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(64);
  return {
    read: () => {
      const n = readSync(fd, buffer, 0, buffer.length, 0);
      return Number(buffer.toString('latin1', 0, n).split(' ', 1)[0]) / 1e6;
    },
    close: () => closeSync(fd),
  };
}

function round(ms: number): number {
  return Number(ms.toFixed(2));
}
