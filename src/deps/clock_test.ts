import assert from "node:assert/strict";
import { TIMEOUT_MAX_MS, timeoutClock, type TimerHost } from "./clock.ts";

/** Host timers that fire only when the test says so. */
function manualTimers(): TimerHost & {
  armed: Map<number, { callback: () => void; delayMs: number }>;
  fire(id: number, atMs: number): void;
  nowMs: number;
} {
  let next = 1;
  const armed = new Map<number, { callback: () => void; delayMs: number }>();
  const host = {
    nowMs: 0,
    armed,
    now: () => host.nowMs,
    setTimeout(callback: () => void, delayMs: number) {
      assert.ok(
        delayMs <= TIMEOUT_MAX_MS,
        `a timeout of ${delayMs} ms overflows`,
      );
      armed.set(next, { callback, delayMs });
      return next++;
    },
    clearTimeout(id: unknown) {
      armed.delete(id as number);
    },
    fire(id: number, atMs: number) {
      const timer = armed.get(id)!;
      armed.delete(id);
      host.nowMs = atMs;
      timer.callback();
    },
  };
  return host;
}

Deno.test("timeoutClock.delay() waits out a delay past 2^31-1 ms in chunks instead of firing at once", async () => {
  const host = manualTimers();
  const clock = timeoutClock(host);
  const thirtyDaysMs = 30 * 86_400_000;
  let fired = false;
  const wait = clock.delay(thirtyDaysMs);
  wait.done.then(() => fired = true);
  const [first, armed] = only(host.armed);
  assert.equal(armed.delayMs, TIMEOUT_MAX_MS);
  host.fire(first, TIMEOUT_MAX_MS);
  await Promise.resolve();
  assert.equal(fired, false);
  const [second, rest] = only(host.armed);
  assert.equal(rest.delayMs, thirtyDaysMs - TIMEOUT_MAX_MS);
  host.fire(second, thirtyDaysMs);
  await wait.done;
  assert.equal(fired, true);
  assert.equal(host.armed.size, 0);
});

Deno.test("timeoutClock.delay() cancels the chunk that is armed", async () => {
  const host = manualTimers();
  const clock = timeoutClock(host);
  const wait = clock.delay(TIMEOUT_MAX_MS * 3);
  const [first] = only(host.armed);
  host.fire(first, TIMEOUT_MAX_MS);
  assert.equal(host.armed.size, 1);
  wait.cancel();
  await wait.done;
  assert.equal(host.armed.size, 0);
});

function only<T>(armed: Map<number, T>): [number, T] {
  assert.equal(armed.size, 1);
  return [...armed][0]!;
}
