import { heartbeat } from '@temporalio/activity';

/** How often the cpu activities heartbeat; their heartbeat timeout (workflows/activity-options.ts) is 30 s. */
const EVERY_MS = 5_000;

/**
 * `activities` that heartbeat every few seconds while they run. The cpu activities do database and file work with
 * no progress of their own to report, and without heartbeats a control worker killed mid-activity is only noticed
 * at the start-to-close timeout (10 minutes); with them, within the heartbeat timeout.
 */
export function heartbeating<T extends Record<string, (args: never) => Promise<unknown>>>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, run]) => [name, async (args: never) => {
    const timer = setInterval(() => heartbeat(), EVERY_MS);
    try {
      return await run(args);
    } finally {
      clearInterval(timer);
    }
  }]);
  return Object.fromEntries(wrapped) as T;
}
