import assert from "node:assert/strict";
import { SimulatedClock } from "../src/deps/mod.ts";
import type { RunStatus, RunSummary } from "../src/store/mod.ts";
import { ELSEWHERE_POLL_MS, RunEndWaits } from "./run_end_waits.ts";

/** A store's index rows, by run, as `getRun` answers them. */
function rows(statuses: Record<string, RunStatus | Error>) {
  return {
    reads: 0,
    getRun(runId: string): Promise<RunSummary | undefined> {
      this.reads++;
      const status = statuses[runId];
      if (status instanceof Error) return Promise.reject(status);
      return Promise.resolve(
        status === undefined ? undefined : {
          run_id: runId,
          tenant: "t",
          status,
          created_at: 0,
          updated_at: 0,
          last_seq: 0,
          digest: "",
        },
      );
    },
  };
}

function waits(
  store: ReturnType<typeof rows>,
  options: { held?: Set<string>; clock?: SimulatedClock } = {},
) {
  const clock = options.clock ?? new SimulatedClock();
  const pollClock = new SimulatedClock();
  const held = options.held ?? new Set<string>();
  const endWaits = new RunEndWaits({
    store,
    clock,
    pollClock,
    known: () => undefined,
    holds: (runId) => held.has(runId),
  });
  return { endWaits, clock, pollClock };
}

/** Whether `promise` has settled, after the microtasks queued so far ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
  return done;
}

Deno.test("RunEndWaits.wait() returns at once for a run that ended, paused or is unknown", async () => {
  const store = rows({ a: "succeeded", b: "paused" });
  const { endWaits } = waits(store);
  await endWaits.wait("a", 60_000);
  await endWaits.wait("b", 60_000);
  await endWaits.wait("nope", 60_000);
  endWaits.close();
});

Deno.test("RunEndWaits.wait() ends when the run's end is told, or at its limit", async () => {
  const store = rows({ r: "running" });
  const { endWaits, clock } = waits(store, { held: new Set(["r"]) });
  const woken = endWaits.wait("r", 60_000);
  const timed = endWaits.wait("r", 1_000);
  assert.equal(await settled(woken), false);
  clock.advance(1_000);
  assert.equal(await settled(timed), true);
  assert.equal(await settled(woken), false);
  endWaits.wake("r");
  assert.equal(await settled(woken), true);
  endWaits.close();
});

Deno.test("RunEndWaits looks at the store for runs held elsewhere, one poll for all, and only while someone waits", async () => {
  const statuses: Record<string, RunStatus | Error> = {
    x: "running",
    y: "running",
    here: "running",
  };
  const store = rows(statuses);
  const { endWaits, pollClock } = waits(store, { held: new Set(["here"]) });
  const x = endWaits.wait("x", 60_000);
  const y = endWaits.wait("y", 60_000);
  const here = endWaits.wait("here", 60_000);
  await settled(x);
  const readsBefore = store.reads;
  // One look: both runs held elsewhere are read, the run held here is not.
  statuses.x = "succeeded";
  statuses.y = new Error("store away");
  pollClock.advance(ELSEWHERE_POLL_MS);
  assert.equal(await settled(x), true);
  assert.equal(await settled(y), false);
  assert.equal(store.reads - readsBefore, 2);
  // A failed read leaves its waiter to the next look.
  statuses.y = "failed";
  pollClock.advance(ELSEWHERE_POLL_MS);
  assert.equal(await settled(y), true);
  endWaits.wake("here");
  assert.equal(await settled(here), true);
  // Nobody waits: the poll stops re-arming itself.
  pollClock.advance(ELSEWHERE_POLL_MS);
  await settled(Promise.resolve());
  assert.equal(pollClock.nextDueMs(), undefined);
  endWaits.close();
});

Deno.test("RunEndWaits.close() stops the poll", async () => {
  const store = rows({ x: "running" });
  const { endWaits, pollClock, clock } = waits(store);
  const x = endWaits.wait("x", 1_000);
  await settled(x);
  assert.notEqual(pollClock.nextDueMs(), undefined);
  endWaits.close();
  assert.equal(pollClock.nextDueMs(), undefined);
  const reads = store.reads;
  pollClock.advance(ELSEWHERE_POLL_MS);
  await settled(x);
  assert.equal(store.reads, reads);
  clock.advance(1_000);
  await x;
});
