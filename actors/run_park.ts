import { isTerminal } from "../src/store/mod.ts";
import { resume } from "./run_decide.ts";
import type { RunState } from "./run_state.ts";

/**
 * When a run has nothing to do but wait: for a timer (a `sleep_ms` step, a
 * retry backoff, a `wait_signal` timeout) and or a message (a signal, a
 * resume, a cancel). Such a run needs no actor, lease or slot: its node
 * parks it in the store and any node wakes it when `wake_at` (the earliest
 * timer, null when only a message can end the wait) is due or a message
 * arrives. Undefined while the run has work in flight or a decision to
 * take. Pure: the same log always gives the same answer, so the wake time
 * is derivable from the log alone.
 */
export function parkedWake(
  state: RunState,
): { wake_at: number | null } | undefined {
  if (isTerminal(state.status) || state.cancel_reason !== null) return;
  if (
    state.planning !== null ||
    state.steps.some((step) => step.status === "running")
  ) {
    return undefined;
  }
  // What a fresh actor would do first: when that is only arming timers,
  // nothing happens before the earliest one fires.
  let wakeAt: number | null = null;
  for (const effect of resume(state)) {
    if (effect.kind !== "StartTimer") return undefined;
    wakeAt = wakeAt === null ? effect.due_at : Math.min(wakeAt, effect.due_at);
  }
  return { wake_at: wakeAt };
}
