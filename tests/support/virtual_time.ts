import { decideNext, fold, type RunState } from "../../actors/run_reducer.ts";
import { messageOf } from "../../actors/run_messages.ts";
import type { RunView } from "../../actors/run_view.ts";
import { SimulatedClock } from "../../src/deps/mod.ts";
import type { AosNode } from "../../src/node/mod.ts";
import { isTerminal } from "../../src/store/mod.ts";
import { openTestNode, type TestNodeOptions } from "./test_node.ts";

/** Where `runUntilSettled` left a run, and how far the clock moved. */
export interface Settled {
  view: RunView;
  state: RunState;
  /** Virtual milliseconds that passed. */
  elapsedMs: number;
  /** Timer due times the clock jumped to, in order. */
  jumps: number[];
}

/**
 * Virtual time for workflow tests. Durable timers (retry backoff, `sleep_ms`,
 * `wait_signal` timeouts) are `clock.delay` calls on the node's clock seam;
 * with a `SimulatedClock` they wait until the test moves time. The kit moves
 * it only when the run has nothing else to do (no step running, no decision
 * pending, no plan being made) and then straight to the earliest timer the
 * run recorded, so a one-hour backoff or a one-day sleep takes milliseconds,
 * and the log holds the virtual times as if the hours had passed.
 */
export class VirtualTime {
  readonly clock: SimulatedClock;

  constructor(startMs = 1_800_000_000_000) {
    this.clock = new SimulatedClock(startMs);
  }

  /** Opens an in-process node on this clock. */
  openNode(
    options: Omit<TestNodeOptions, "clock"> = {},
  ): ReturnType<typeof openTestNode> {
    return openTestNode({ ...options, clock: this.clock });
  }

  /**
   * Lets `runId` go until it ends, pauses, or waits for something no timer
   * will bring (a signal without timeout), jumping the clock from timer to
   * timer. At most `jumpsMax` jumps, so a run that re-arms timers forever
   * fails the test instead of hanging it.
   */
  async runUntilSettled(
    node: AosNode,
    runId: string,
    options: { jumpsMax?: number } = {},
  ): Promise<Settled> {
    const jumpsMax = options.jumpsMax ?? 1000;
    const startMs = this.clock.nowMs();
    const jumps: number[] = [];
    for (;;) {
      const records = await node.store.readLog(runId);
      const state = fold(records.map(messageOf));
      if (state === undefined) throw new Error(`run ${runId} has no log`);
      const settled = async (): Promise<Settled> => ({
        view: (await node.runtime.view(runId))!,
        state,
        elapsedMs: this.clock.nowMs() - startMs,
        jumps,
      });
      if (isTerminal(state.status) || state.status === "paused") {
        return await settled();
      }
      const busy = state.planning !== null ||
        state.steps.some((step) => step.status === "running") ||
        decideNext(state).length > 0;
      const timers = state.steps.flatMap((step) =>
        step.timer === null ? [] : [step.timer.due_at]
      );
      if (!busy && timers.length === 0) return await settled();
      if (!busy) {
        if (jumps.length >= jumpsMax) {
          throw new Error(
            `run ${runId} was still arming timers after ${jumpsMax} jumps`,
          );
        }
        const dueMs = Math.min(...timers);
        // The actor arms a timer right after its record is durable.
        await this.clock.delayDueBy(dueMs);
        jumps.push(dueMs);
        this.clock.advanceTo(dueMs);
      }
      await node.runtime.waitForRecord(
        runId,
        (record) => record.seq >= records.length,
      );
    }
  }
}
