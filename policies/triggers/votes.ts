import type { VoteSpec } from './schema.js';

/** Whether `yes` of `total` votes carry: a majority, any, all, or at least n. */
export function carries(vote: VoteSpec, yes: number, total: number): boolean {
  switch (vote.kind) {
    case 'majority':
      return yes * 2 > total;
    case 'any':
      return yes > 0;
    case 'all':
      return yes === total;
    case 'atLeast':
      return yes >= vote.n;
  }
}

export function describeVote(vote: VoteSpec): string {
  return vote.kind === 'atLeast' ? `at least ${vote.n}` : vote.kind;
}
