import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** Parses a sample-time duration such as "30s", "15m", "1d" or "2w" into seconds (y = 365 days). */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhdwy])$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration: use a whole number and a unit of s, m, h, d, w or y (e.g. "1d")`);
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]];
  if (seconds <= 0) throw new Error(`"${text}" must be longer than zero`);
  return seconds;
}

/** A spec field holding a duration: kept as written, checked here, parsed where it is used. */
export const durationSchema = z.string({ error: 'expected a duration such as "30s", "15m", "1d" or "2w"' }).refine((text) => {
  try {
    parseDuration(text);
    return true;
  } catch {
    return false;
  }
}, 'expected a duration such as "30s", "15m", "1d" or "2w"');
