/**
 * Progress display for long steps: a redrawn bar on a terminal, plain start/end lines elsewhere
 * (CI logs), so output stays readable both ways.
 */
export interface Progress {
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

const WIDTH = 28;
const tty = () => Boolean(process.stdout.isTTY);

function format(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(1)}s` : `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
}

/** A bar for `total` units of work; `total` 0 shows a spinner-like elapsed counter. */
export function progress(label: string, total = 0): Progress {
  const started = Date.now();
  let last = '';
  const elapsed = () => format((Date.now() - started) / 1000);
  const draw = (done: number, note = '') => {
    const bar =
      total > 0
        ? `[${'█'.repeat(Math.round((WIDTH * Math.min(done, total)) / total)).padEnd(WIDTH, '░')}] ${done}/${total}`
        : '';
    const line = `  ${label} ${bar} ${elapsed()}${note ? `  ${note}` : ''}`;
    if (line !== last) process.stdout.write(`\r\x1b[2K${line}`);
    last = line;
  };
  const current = { done: 0, note: '' };
  if (tty()) draw(0);
  else process.stdout.write(`  ${label}…\n`);
  const timer = tty() ? setInterval(() => draw(current.done, current.note), 250) : undefined;
  return {
    update(done, note) {
      current.done = done;
      current.note = note ?? current.note;
      if (tty()) draw(done, current.note);
    },
    finish(note) {
      clearInterval(timer);
      if (tty()) {
        draw(total > 0 ? total : current.done, note ?? current.note);
        process.stdout.write('\n');
      } else {
        process.stdout.write(`  ${label}: done in ${elapsed()}${note ? ` (${note})` : ''}\n`);
      }
    },
  };
}

/** Runs one step under a progress line. */
export async function step<T>(label: string, work: (p: Progress) => Promise<T>, total = 0): Promise<T> {
  const bar = progress(label, total);
  try {
    const result = await work(bar);
    bar.finish();
    return result;
  } catch (err) {
    bar.finish('failed');
    throw err;
  }
}
