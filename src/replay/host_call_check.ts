import type { HostCallBody, HostCallKind } from "../../actors/run_messages.ts";
import type { HostCallPort, StepOutcome } from "../../actors/run_ports.ts";
import { replayPort } from "../sandbox/mod.ts";
import { canonicalJson, type Json, sha256Hex } from "../store/mod.ts";
import type { DivergenceClass, HostCallConcerned } from "./divergence.ts";

/** A host-call disagreement, placed by the call's position in the attempt. */
export interface HostCallFinding {
  /** Call position within the attempt; past the recorded calls when one is added at the end. */
  position: number;
  class: Extract<
    DivergenceClass,
    "host_call_order_changed" | "host_call_request_changed"
  >;
  host_call: HostCallConcerned;
  message: string;
  expected: Json;
  actual: Json;
}

/** The host calls of one step attempt as replay saw them. */
export interface HostCallReplay {
  outcome: StepOutcome;
  finding: HostCallFinding | null;
}

type Asked = Pick<HostCallBody, "kind" | "request" | "request_sha256">;

/**
 * Runs one step attempt against the log's host-call answers only, and says
 * how the calls the skill makes differ from the recorded ones. When the
 * skill asks for a recorded answer out of its place, the attempt is run
 * again with that answer moved there (nothing live is reachable, so a
 * re-run costs only time), until the skill's whole sequence is known: a call
 * asked later was reordered, one never asked was removed, one the log does
 * not hold was added (and needs a new host call).
 */
export async function replayHostCalls(
  recorded: readonly HostCallBody[],
  execute: (port: HostCallPort) => Promise<StepOutcome>,
): Promise<HostCallReplay> {
  // order[p]: the log position of the answer served at call position p.
  const order = recorded.map((_, position) => position);
  for (let pass = 0;; pass++) {
    let served = 0;
    let beyondLog: HostCallBody | undefined;
    const inner = replayPort(order.map((at) => recorded[at]!), () => served++);
    const outcome = await execute({
      recorded: inner.recorded,
      served: inner.served!,
      persist(call) {
        beyondLog ??= call;
        return inner.persist(call);
      },
    });
    const unmatched = beyondLog ?? mismatchOf(outcome);
    if (unmatched !== undefined && pass < recorded.length) {
      const later = order.findIndex((at, position) =>
        position > unmatched.index && same(recorded[at]!, unmatched)
      );
      if (later >= 0) {
        order.splice(unmatched.index, 0, ...order.splice(later, 1));
        continue;
      }
    }
    return {
      outcome,
      finding: classify(recorded, order, served, unmatched),
    };
  }
}

function classify(
  recorded: readonly HostCallBody[],
  order: readonly number[],
  served: number,
  unmatched: (Asked & { index: number }) | undefined,
): HostCallFinding | null {
  const needsNew = unmatched !== undefined &&
    recorded[order[unmatched.index] ?? -1]?.kind !== unmatched.kind;
  const moved = order.findIndex((at, position) => at !== position);
  if (moved >= 0 && moved < served) {
    const wasAsked = order.slice(0, served).includes(moved);
    const log = recorded[moved]!;
    const asked = recorded[order[moved]!]!;
    return {
      position: moved,
      class: "host_call_order_changed",
      host_call: concerned(log, wasAsked ? "reordered" : "removed", needsNew),
      message: wasAsked
        ? `host call ${moved} is ${asked.kind}, which the log records later; the skill asks for the recorded ${log.kind} afterwards`
        : `the skill never asks for host call ${moved} (${log.kind}); its next call is ${asked.kind}`,
      expected: callJson(moved, log),
      actual: callJson(moved, asked),
    };
  }
  if (unmatched !== undefined) {
    const at = order[unmatched.index];
    const log = at === undefined ? undefined : recorded[at];
    const asked = callJson(unmatched.index, unmatched);
    if (log !== undefined && log.kind === unmatched.kind) {
      return {
        position: unmatched.index,
        class: "host_call_request_changed",
        host_call: concerned(unmatched, "request", false),
        message:
          `host call ${unmatched.index} (${unmatched.kind}) asks with another request than the log records`,
        expected: callJson(unmatched.index, log),
        actual: asked,
      };
    }
    return {
      position: unmatched.index,
      class: "host_call_order_changed",
      host_call: concerned(unmatched, "added", true),
      message: log === undefined
        ? `the skill makes host call ${unmatched.index} (${unmatched.kind}), which the log does not hold`
        : `host call ${unmatched.index} is ${unmatched.kind}, which the log does not hold; it records ${log.kind} here`,
      expected: log === undefined ? null : callJson(unmatched.index, log),
      actual: asked,
    };
  }
  if (served < recorded.length) {
    const log = recorded[order[served]!]!;
    return {
      position: served,
      class: "host_call_order_changed",
      host_call: concerned({ ...log, index: served }, "removed", false),
      message:
        `the skill makes ${served} of the ${recorded.length} recorded host calls; it never asks for call ${served} (${log.kind})`,
      expected: callJson(served, log),
      actual: null,
    };
  }
  return null;
}

/** The call the journal refused at a recorded position, from its error. */
function mismatchOf(
  outcome: StepOutcome,
): (Asked & { index: number }) | undefined {
  if (outcome.ok || outcome.error.code !== "HOST_CALL_MISMATCH") {
    return undefined;
  }
  const details = outcome.error.details as {
    index?: number;
    actual?: { kind: HostCallKind; request: Json };
  };
  if (details.index === undefined || details.actual === undefined) {
    return undefined;
  }
  return {
    index: details.index,
    kind: details.actual.kind,
    request: details.actual.request,
    request_sha256: sha256Hex(canonicalJson(details.actual.request)),
  };
}

function same(left: Asked, right: Asked): boolean {
  return left.kind === right.kind &&
    left.request_sha256 === right.request_sha256;
}

function concerned(
  call: { index: number; kind: HostCallKind },
  change: HostCallConcerned["change"],
  needsNewHostCall: boolean,
): HostCallConcerned {
  return {
    index: call.index,
    kind: call.kind,
    change,
    needs_new_host_call: needsNewHostCall,
  };
}

function callJson(position: number, call: Asked): Json {
  return {
    index: position,
    kind: call.kind,
    request: call.request,
    request_sha256: call.request_sha256,
  };
}
