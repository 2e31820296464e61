/**
 * While `done` is pending, asks `describe` every `everyMs` what is happening and prints it when it changes: the
 * progress lines of commands that follow a workflow. A failed `describe` (a query during a restart) prints nothing.
 */
export async function printWhileWaiting(done: Promise<unknown>, everyMs: number, describe: () => Promise<string | undefined>): Promise<void> {
  let settled = false;
  void done.finally(() => (settled = true)).catch(() => {});
  let last = '';
  while (!settled) {
    await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, everyMs))]);
    if (settled) break;
    const line = await describe().catch(() => undefined);
    if (line === undefined) continue;
    if (line !== last) console.log(`  ${line}`);
    last = line;
  }
}
