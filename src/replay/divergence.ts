import type { HostCallKind } from "../../actors/run_messages.ts";
import type { Json } from "../store/mod.ts";
import { jsonDiff, type JsonDifference } from "./json_diff.ts";

/**
 * What kind of disagreement replay found. The first two are about the log's
 * integrity; the others about behaviour (see docs/replay.md):
 *
 * - `chain_broken`: a record's hash, `prev`, `seq` or run id is wrong.
 * - `record_invalid`: a record the reducer cannot apply.
 * - `skill_bytes_changed`: the module replay has for the pinned
 *   `name@version` is not the pinned sha256 (or there is none).
 * - `host_call_order_changed`: the sequence of host call kinds differs:
 *   calls reordered, added or left out.
 * - `host_call_request_changed`: a host call at the same position asks with
 *   another request (another request digest).
 * - `output_changed`: a step ends with another output or error.
 * - `plan_changed`: the run decides otherwise than the log records (another
 *   step, input, skip, retry or end).
 */
export type DivergenceClass =
  | "chain_broken"
  | "record_invalid"
  | "skill_bytes_changed"
  | "host_call_order_changed"
  | "host_call_request_changed"
  | "output_changed"
  | "plan_changed";

/** Every class, in the order of the list above. */
export const DIVERGENCE_CLASSES: readonly DivergenceClass[] = [
  "chain_broken",
  "record_invalid",
  "skill_bytes_changed",
  "host_call_order_changed",
  "host_call_request_changed",
  "output_changed",
  "plan_changed",
];

/** The host call a divergence concerns. */
export interface HostCallConcerned {
  /** Position of the call within the step attempt, from 0. */
  index: number;
  kind: HostCallKind;
  /** `request`: another request; the others change the sequence of calls. */
  change: "reordered" | "added" | "removed" | "request";
  /**
   * True when the skill asked for an answer the log does not hold at all,
   * so replaying it would need a new, live host call.
   */
  needs_new_host_call: boolean;
}

/** The first record where re-execution and the log disagree. */
export interface Divergence {
  class: DivergenceClass;
  /** Position of the record in the log (0-based; equals its seq). */
  index: number;
  /** Type of the record at `index` (or of the decision past the log's end). */
  type: string;
  step: string | null;
  attempt: number | null;
  /** The module replay ran, `name@version#sha256`, when a step is concerned. */
  skill: string | null;
  host_call: HostCallConcerned | null;
  message: string;
  /** What the log holds. */
  expected: Json;
  /** What replay produced. */
  actual: Json;
  /** `expected` → `actual`, path by path. */
  diff: JsonDifference[];
  diff_truncated: boolean;
}

/** The verdict on one log. */
export interface ReplayReport {
  run_id: string;
  records: number;
  /** Hash of the last record. */
  digest: string;
  verdict: "identical" | "diverged";
  divergence: Divergence | null;
}

/** The fields of a divergence before its diff is computed. */
export type DivergenceFacts =
  & Omit<
    Divergence,
    "diff" | "diff_truncated" | "step" | "attempt" | "skill" | "host_call"
  >
  & Partial<Pick<Divergence, "step" | "attempt" | "skill" | "host_call">>;

/** A divergence with its diff; absent context fields become null. */
export function divergence(facts: DivergenceFacts): Divergence {
  const { differences, truncated } = jsonDiff(facts.expected, facts.actual);
  return {
    class: facts.class,
    index: facts.index,
    type: facts.type,
    step: facts.step ?? null,
    attempt: facts.attempt ?? null,
    skill: facts.skill ?? null,
    host_call: facts.host_call ?? null,
    message: facts.message,
    expected: facts.expected,
    actual: facts.actual,
    diff: differences,
    diff_truncated: truncated,
  };
}
