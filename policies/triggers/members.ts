import type { TriggerSpec } from './schema.js';
import type { AnyTriggerPolicy, PolicyEvaluation, TriggerCommand, TriggerEvent } from './protocol.js';

/**
 * Plumbing for policies that run other policies (an ensemble's members, a warm-up policy): a member's
 * commands leave tagged with its name so their results find their way back, its cuts come back to the
 * parent as candidates instead of leaving, and its evaluations carry their place in the spec.
 */

export interface MemberCut {
  lastKey: number;
  reason: string;
}

export interface MemberStep {
  state: unknown;
  /** The member's splits and measurements, tagged for routing. */
  commands: TriggerCommand[];
  cuts: MemberCut[];
  evaluations: PolicyEvaluation[];
}

/** `name` alone for the member's own tag, `name/tag` for its members' tags. */
const tagFor = (name: string, tag: string) => (tag === '' ? name : `${name}/${tag}`);

/** The member a tagged result belongs to, and the tag it asked with; null for the parent's own. */
export function routeTag(tag: string): { member: string; tag: string } | null {
  if (tag === '') return null;
  const slash = tag.indexOf('/');
  return slash < 0 ? { member: tag, tag: '' } : { member: tag.slice(0, slash), tag: tag.slice(slash + 1) };
}

/** Where a member's evaluations sit under its parent: `path` for its own, `path.sub` for its members'. */
function placed(evaluation: PolicyEvaluation, path: string): PolicyEvaluation {
  return { ...evaluation, policy: evaluation.policy === '' ? path : `${path}.${evaluation.policy}` };
}

export function stepMember(policy: AnyTriggerPolicy, state: unknown, event: TriggerEvent, name: string, path: string): MemberStep {
  const out = policy.step(state, event);
  const commands: TriggerCommand[] = [];
  const cuts: MemberCut[] = [];
  for (const command of out.commands) {
    if (command.kind === 'cut') cuts.push({ lastKey: command.lastKey, reason: command.reason });
    else commands.push({ ...command, tag: tagFor(name, command.tag) });
  }
  return { state: out.state, commands, cuts, evaluations: out.evaluations.map((e) => placed(e, path)) };
}

/** The event as the member should see it: its own tag for split and measured results. */
export function forMember(event: TriggerEvent, tag: string): TriggerEvent {
  return event.kind === 'split' || event.kind === 'measured' ? { ...event, tag } : event;
}

/** The spec path of the policy that asked with `tag`: `trigger`, `trigger.members.drift`, `trigger.warmup`. */
export function policyPath(spec: TriggerSpec, tag: string): string {
  let path = 'trigger';
  let at: TriggerSpec | undefined = spec;
  for (const part of tag === '' ? [] : tag.split('/')) {
    if (at?.kind === 'ensemble') {
      path += `.members.${part}`;
      at = at.members[part];
    } else {
      path += `.${part}`;
      at = at && 'warmup' in at ? at.warmup?.policy : undefined;
    }
  }
  return path;
}
