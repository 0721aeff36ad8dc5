import assert from "node:assert/strict";
import { CallDeadlines } from "./_call_deadlines.ts";

function expiry(): { expire: () => void; expired: Promise<number> } {
  let expire!: () => void;
  const expired = new Promise<number>((resolve) => {
    expire = () => resolve(performance.now());
  });
  return { expire, expired };
}

Deno.test("CallDeadlines stops a call that outlives its limit, not before", async () => {
  const deadlines = new CallDeadlines();
  const { expire, expired } = expiry();
  const startedMs = performance.now();
  deadlines.add(20, expire);
  assert.equal(deadlines.size, 1);
  const expiredMs = await expired;
  assert.ok(
    expiredMs - startedMs >= 20,
    `expired after ${expiredMs - startedMs} ms`,
  );
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines.holdsProcess, false);
});

Deno.test("CallDeadlines never stops a call that ended in time", async () => {
  const deadlines = new CallDeadlines();
  let endedCallStopped = false;
  const done = deadlines.add(1, () => endedCallStopped = true);
  done();
  // A later call's expiry comes after the ended call's deadline passed.
  const later = expiry();
  deadlines.add(10, later.expire);
  await later.expired;
  assert.equal(endedCallStopped, false);
  assert.equal(deadlines.size, 0);
});

Deno.test("CallDeadlines enforces an earlier deadline added after a later one", async () => {
  const deadlines = new CallDeadlines();
  let slowStopped = false;
  deadlines.add(60_000, () => slowStopped = true);
  const fast = expiry();
  const startedMs = performance.now();
  deadlines.add(5, fast.expire);
  const expiredMs = await fast.expired;
  assert.ok(expiredMs - startedMs >= 5);
  assert.equal(slowStopped, false);
  assert.equal(deadlines.size, 1);
  deadlines.clear();
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines.holdsProcess, false);
});

Deno.test("CallDeadlines stops every call whose time is up, in one firing", async () => {
  const deadlines = new CallDeadlines();
  const first = expiry();
  const second = expiry();
  deadlines.add(5, first.expire);
  deadlines.add(5, second.expire);
  await Promise.all([first.expired, second.expired]);
  assert.equal(deadlines.size, 0);
});

Deno.test("CallDeadlines holds the process open only while a call is in flight", () => {
  const deadlines = new CallDeadlines();
  assert.equal(deadlines.holdsProcess, false);
  const first = deadlines.add(60_000, () => {});
  assert.equal(deadlines.holdsProcess, true);
  const second = deadlines.add(60_000, () => {});
  first();
  assert.equal(deadlines.holdsProcess, true);
  second();
  // Still armed for the first call's deadline, but no longer holding.
  assert.equal(deadlines.holdsProcess, false);
  const third = deadlines.add(60_000, () => {});
  assert.equal(deadlines.holdsProcess, true);
  third();
  second();
  assert.equal(deadlines.holdsProcess, false);
  deadlines.clear();
});
