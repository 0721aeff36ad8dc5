import assert from "node:assert/strict";
import { MemoryLogger, SimulatedClock } from "../src/deps/mod.ts";
import type { ActorExit } from "./actor.ts";
import { Supervisor } from "./supervisor.ts";

/** A child whose exits the test decides, one start at a time. */
function scriptedChild() {
  const starts: ((exit: ActorExit) => void)[] = [];
  let started: () => void = () => {};
  return {
    starts,
    nextStart: () => new Promise<void>((resolve) => started = resolve),
    start() {
      return Promise.resolve({
        exit: new Promise<ActorExit>((resolve) => {
          starts.push(resolve);
          started();
        }),
      });
    },
  };
}

Deno.test("Supervisor restarts a crashed child after a doubling backoff", async () => {
  const clock = new SimulatedClock();
  const child = scriptedChild();
  const gaveUp: string[] = [];
  const supervisor = new Supervisor(
    {
      start: () => child.start(),
      giveUp: (id) => Promise.resolve(void gaveUp.push(id)),
    },
    { clock, log: new MemoryLogger() },
    {
      restartsMax: 3,
      windowMs: 60_000,
      backoffBaseMs: 100,
      backoffMaxMs: 1_000,
    },
  );
  let started = child.nextStart();
  supervisor.supervise("run-1");
  await started;
  for (const backoffMs of [100, 200, 400]) {
    started = child.nextStart();
    child.starts[child.starts.length - 1]!({
      reason: "crashed",
      error: new Error("boom"),
    });
    await clock.delaysPending();
    clock.advance(backoffMs - 1);
    assert.equal(clock.pendingDelays, 1, "restarted before its backoff");
    clock.advance(1);
    await started;
  }
  assert.equal(child.starts.length, 4);
  child.starts[3]!({ reason: "crashed", error: new Error("again") });
  await supervisor.settled("run-1");
  assert.deepEqual(gaveUp, ["run-1"]);
  assert.equal(supervisor.has("run-1"), false);
});

Deno.test("Supervisor forgets a child that stopped normally", async () => {
  const clock = new SimulatedClock();
  const child = scriptedChild();
  const supervisor = new Supervisor(
    {
      start: () => child.start(),
      giveUp: () => Promise.reject(new Error("must not give up")),
    },
    { clock, log: new MemoryLogger() },
  );
  const started = child.nextStart();
  supervisor.supervise("run-2");
  supervisor.supervise("run-2");
  await started;
  assert.deepEqual(supervisor.ids, ["run-2"]);
  child.starts[0]!({ reason: "stopped" });
  await supervisor.settled("run-2");
  assert.deepEqual(supervisor.ids, []);
  assert.equal(child.starts.length, 1);
});
