import assert from "node:assert/strict";
import { silentLogger, SimulatedClock } from "../src/deps/mod.ts";
import { timed } from "../src/metrics/mod.ts";
import { SqliteStore, type Store } from "../src/store/mod.ts";
import { fakeLog } from "../src/store/store_contract.ts";
import { DEFAULT_OWNERSHIP, RunOwnership } from "./run_ownership.ts";

/** One turn of the event loop: what was started settles meanwhile. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("RunOwnership keeps no renewal timer while it holds no lease", async () => {
  const store = SqliteStore.open(":memory:");
  const clock = new SimulatedClock();
  let renewals = 0;
  let renewed!: () => void;
  // The store, counting renewals as they settle.
  const counting: Store = timed(store, ["renewLeases"], () => {
    renewals++;
    renewed();
  });
  const claimed: string[] = [];
  const ownership = new RunOwnership(
    { store: counting, clock, log: silentLogger },
    { ...DEFAULT_OWNERSHIP, leaseMs: 3_000, pollMs: 60_000 },
    {
      claimed: (runId) => claimed.push(runId),
      lost() {},
      cancelRequested() {},
      signalRequested() {},
      resumeRequested() {},
    },
  );
  try {
    assert.equal(await ownership.start(), 0);
    await clock.delaysPending(1);
    await turn();
    assert.equal(clock.pendingDelays, 1, "only the fallback claim poll waits");

    // A run to hold wakes the claimer; its lease then needs renewing.
    await store.createRun(fakeLog("r1", 1)[0]!, { tenant: "t" });
    await clock.delaysPending(2);
    assert.deepEqual(claimed, ["r1"]);
    const first = new Promise<void>((resolve) => renewed = resolve);
    clock.advance(1_000);
    await first;
    assert.equal(renewals, 1);

    // Parked (until a message), the run holds no lease: no renewal, and
    // the renewal timer goes.
    await ownership.park("r1", null);
    clock.advance(1_000);
    await turn();
    assert.equal(renewals, 1);
    assert.equal(ownership.held, 0);
    assert.equal(clock.pendingDelays, 1, "only the fallback claim poll waits");
  } finally {
    await ownership.close();
    await store.close();
  }
});
