import { forMember, routeTag, stepMember, type MemberStep } from './members.js';
import type { AnyTriggerPolicy, PolicyEvaluation, StepResult, TriggerEvent, TriggerPolicy } from './protocol.js';
import type { EnsembleSpec } from './schema.js';
import { carries, describeVote } from './votes.js';

export interface EnsembleState {
  members: Record<string, unknown>;
  /** Members' cuts not decided yet, in key order. */
  candidates: { member: string; lastKey: number; reason: string }[];
  /** Members that fired since the ensemble's last trigger, with their reasons: the votes. */
  fired: Record<string, string>;
  /** The last key the ensemble decided on. */
  decided: number;
  /** The ensemble's own cut, while its outcome is outstanding. */
  waiting: number | null;
  /** The horizon each member was last told, and the one this ensemble was told by its own parent (null: none). */
  horizons: Record<string, number>;
  parentHorizon: number | null;
}

/**
 * Triggers when enough members fired since its last trigger (any, all, a majority or at least n). Members
 * are any trigger kinds, ensembles included; each sees every event, and its cuts become candidates. A
 * candidate is decided once every member has decided through its key, so votes are counted in key order
 * whatever the members wait for; a member whose cut did not carry is told so and carries on. Each member
 * is told the horizon through which the pipeline's triggers are known (what the other members and the
 * undecided candidates leave open), so a model-aware member measures the model that is current when its
 * interval ends, even when another member's trigger produced it.
 */
export function ensembleTrigger(spec: EnsembleSpec, members: Record<string, AnyTriggerPolicy>): TriggerPolicy<EnsembleState> {
  const names = Object.keys(members);

  function take(s: EnsembleState, name: string, step: MemberStep, out: StepResult<EnsembleState>): EnsembleState {
    out.commands.push(...step.commands);
    out.evaluations.push(...step.evaluations);
    const candidates = [...s.candidates, ...step.cuts.map((c) => ({ member: name, ...c }))].sort((a, b) => a.lastKey - b.lastKey);
    return { ...s, members: { ...s.members, [name]: step.state }, candidates };
  }

  const send = (s: EnsembleState, name: string, event: TriggerEvent, out: StepResult<EnsembleState>) =>
    take(s, name, stepMember(members[name]!, s.members[name], event, name, `members.${name}`), out);

  /** Through which key a member may rely on the pipeline's triggers being known. */
  function horizonFor(s: EnsembleState, name: string): number {
    let h = Math.min(s.parentHorizon ?? Infinity, (s.waiting ?? Infinity) - 1, (s.candidates[0]?.lastKey ?? Infinity) - 1);
    for (const n of names) if (n !== name) h = Math.min(h, members[n]!.decidedThrough(s.members[n]));
    return h;
  }

  /** Decides what can be decided and widens members' horizons, until neither changes anything. */
  function settle(s: EnsembleState, out: StepResult<EnsembleState>): StepResult<EnsembleState> {
    for (;;) {
      s = decide(s, out);
      let widened = false;
      for (const name of names) {
        const h = horizonFor(s, name);
        if (h <= s.horizons[name]!) continue;
        // Unbounded only for a member alone with nothing undecided, i.e. no other member and no parent: keep it finite.
        const through = Number.isFinite(h) ? h : Number.MAX_SAFE_INTEGER;
        s = send({ ...s, horizons: { ...s.horizons, [name]: through } }, name, { kind: 'horizon', through }, out);
        widened = true;
      }
      if (!widened) return { ...out, state: s };
    }
  }

  function decide(s: EnsembleState, out: StepResult<EnsembleState>): EnsembleState {
    while (s.waiting === null && s.candidates.length > 0) {
      const key = s.candidates[0]!.lastKey;
      if (names.some((n) => members[n]!.decidedThrough(s.members[n]) < key)) break;
      const at = s.candidates.filter((c) => c.lastKey === key);
      const fired = { ...s.fired };
      for (const c of at) fired[c.member] = c.reason;
      const yes = Object.keys(fired).length;
      const triggered = carries(spec.vote, yes, names.length);
      const reason = `${yes} of ${names.length} members fired (${describeVote(spec.vote)} needed): `
        + Object.entries(fired).map(([n, r]) => `${n}: ${r}`).join('; ');
      const evaluation: PolicyEvaluation = {
        policy: '', interval: { firstKey: s.decided + 1, lastKey: key }, modelId: null, scores: { votes: yes }, thresholds: {},
        votes: Object.fromEntries(names.map((n) => [n, n in fired])), triggered, reason,
      };
      out.evaluations.push(evaluation);
      if (triggered) {
        out.commands.push({ kind: 'cut', lastKey: key, reason });
        s = { ...s, fired, decided: key, waiting: key };
        break;
      }
      s = { ...s, fired, decided: key, candidates: s.candidates.filter((c) => c.lastKey !== key) };
      for (const c of at) s = send(s, c.member, { kind: 'declined', lastKey: key }, out);
    }
    return s;
  }

  return {
    initialState: () => ({
      // Members start knowing no trigger, so none decides ahead of what the others leave open.
      members: Object.fromEntries(names.map((n) => [n, members[n]!.step(members[n]!.initialState(), { kind: 'horizon', through: 0 }).state])),
      candidates: [], fired: {}, decided: 0, waiting: null, horizons: Object.fromEntries(names.map((n) => [n, 0])), parentHorizon: null,
    }),
    decidedThrough(s) {
      if (s.waiting !== null) return s.waiting;
      const members_ = Math.min(...names.map((n) => members[n]!.decidedThrough(s.members[n])));
      return Math.min(members_, (s.candidates[0]?.lastKey ?? Infinity) - 1);
    },
    step(s, event) {
      const out: StepResult<EnsembleState> = { state: s, commands: [], evaluations: [] };
      switch (event.kind) {
        case 'data':
          for (const name of names) s = send(s, name, event, out);
          break;
        case 'split':
        case 'measured': {
          const route = routeTag(event.tag);
          if (route && route.member in members) s = send(s, route.member, forMember(event, route.tag), out);
          break;
        }
        case 'triggered': {
          // The pipeline triggered: members whose cut was at this key take it as their outcome, all learn of the model.
          if (s.waiting === event.lastKey) s = { ...s, waiting: null, fired: {} };
          s = { ...s, candidates: s.candidates.filter((c) => c.lastKey !== event.lastKey) };
          for (const name of names) s = send(s, name, event, out);
          break;
        }
        case 'declined': {
          if (s.waiting !== event.lastKey) break;
          const at = s.candidates.filter((c) => c.lastKey === event.lastKey);
          s = { ...s, waiting: null, fired: {}, candidates: s.candidates.filter((c) => c.lastKey !== event.lastKey) };
          for (const c of at) s = send(s, c.member, event, out);
          break;
        }
        case 'horizon':
          s = { ...s, parentHorizon: event.through };
          break;
      }
      return settle(s, out);
    },
  };
}
