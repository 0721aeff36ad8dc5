import assert from "node:assert/strict";
import { join } from "node:path";
import { AosError } from "../src/errors/mod.ts";
import { liveRandom, MemoryLogger, SimulatedClock } from "../src/deps/mod.ts";
import {
  emptyHead,
  headAfter,
  type LogRecord,
  sealRecord,
  SqliteStore,
} from "../src/store/mod.ts";
import { RelayedSignals } from "./relayed_signals.ts";

const WAIT_MS = 30_000;
const POLL_MS = 200;

/** A store holding one run, held by "holder", and a relay on a simulated clock. */
async function relayOn(runId: string) {
  const dir = Deno.makeTempDirSync({ prefix: "aos-relay-" });
  const store = SqliteStore.open(join(dir, "aos.db"));
  const first = sealRecord(emptyHead(runId), {
    type: "RunSubmitted",
    body: {},
    at: 1000,
  });
  await store.createRun(first, { tenant: "t" });
  await store.claimRuns("holder", { nowMs: 1, leaseMs: 1e9, limit: 1 });
  const clock = new SimulatedClock();
  const outcomes: string[] = [];
  const relay = new RelayedSignals({
    store,
    clock,
    random: liveRandom,
    log: new MemoryLogger(),
    waitMs: WAIT_MS,
    pollMs: POLL_MS,
    closing: () => false,
    onOutcome: (outcome) => outcomes.push(outcome),
  });
  const end = (): LogRecord =>
    sealRecord(headAfter(first), { type: "RunCancelled", body: {}, at: 1001 });
  return { store, clock, relay, end, outcomes };
}

/** Lets the relay look at the store once more. */
async function nextLook(clock: SimulatedClock): Promise<void> {
  await clock.delaysPending(1);
  clock.advance(POLL_MS);
}

Deno.test("RelayedSignals.send() leaves the signal for the holder and answers once the holder has taken it", async () => {
  const { store, clock, relay, outcomes } = await relayOn("r1");
  try {
    const sent = relay.send("r1", "go", { ok: true });
    await nextLook(clock);
    const [request] = await store.pendingSignals("holder");
    assert.equal(request?.run_id, "r1");
    assert.equal(request?.name, "go");
    assert.deepEqual(request?.payload, { ok: true });
    assert.match(request!.id, /^sig_[0-9a-f]{24}$/);
    // The holder records it, then drops the request.
    assert.equal(await store.dropSignalRequest(request!.id), true);
    await nextLook(clock);
    assert.deepEqual(await sent, { status: "running", queued: false });
    assert.deepEqual(outcomes, ["recorded"]);
  } finally {
    await store.close();
  }
});

Deno.test("RelayedSignals.send() refuses with RUN_ALREADY_FINISHED when the run ended without taking the signal (dropped with its end)", async () => {
  const { store, clock, relay, end, outcomes } = await relayOn("r2");
  try {
    const sent = relay.send("r2", "go", null);
    await clock.delaysPending(1);
    const [request] = await store.pendingSignals("holder");
    assert.ok(request !== undefined);
    // The run may not end while the request waits, unless its end drops it.
    await assert.rejects(
      store.append([end()], { status: "cancelled" }),
      (error) =>
        error instanceof AosError && error.code === "STORE_SIGNALS_WAITING",
    );
    await store.append([end()], {
      status: "cancelled",
      delivers: [request.id],
    });
    clock.advance(POLL_MS);
    await assert.rejects(
      sent,
      (error) =>
        error instanceof AosError && error.code === "RUN_ALREADY_FINISHED",
    );
    // Nothing was recorded, and the request is gone.
    assert.deepEqual(
      (await store.readLog("r2")).map((record) => record.type),
      ["RunSubmitted", "RunCancelled"],
    );
    assert.equal(await store.signalRequestWaiting(request.id), false);
    assert.deepEqual(outcomes, ["refused"]);
  } finally {
    await store.close();
  }
});

Deno.test("RelayedSignals.send() answers recorded when the run recorded the signal with its end", async () => {
  const { store, clock, relay, outcomes } = await relayOn("r6");
  try {
    const sent = relay.send("r6", "go", 7);
    await clock.delaysPending(1);
    const [request] = await store.pendingSignals("holder");
    assert.ok(request !== undefined);
    const [first] = await store.readLog("r6");
    const received = sealRecord(headAfter(first!), {
      type: "SignalReceived",
      body: { name: "go", payload: 7, request: request.id },
      at: 1001,
    });
    const ended = sealRecord(headAfter(received), {
      type: "RunCancelled",
      body: {},
      at: 1002,
    });
    await store.append([received, ended], {
      status: "cancelled",
      delivers: [request.id],
    });
    clock.advance(POLL_MS);
    assert.deepEqual(await sent, { status: "cancelled", queued: false });
    assert.deepEqual(outcomes, ["recorded"]);
  } finally {
    await store.close();
  }
});

Deno.test("RelayedSignals.send() answers queued after its wait when the holder has not taken the signal; the request stays for the run's next holder", async () => {
  const { store, clock, relay, outcomes } = await relayOn("r3");
  try {
    const sent = relay.send("r3", "go", 1);
    for (let waited = 0; waited < WAIT_MS; waited += POLL_MS) {
      await nextLook(clock);
    }
    assert.deepEqual(await sent, { status: "running", queued: true });
    assert.deepEqual(outcomes, ["queued"]);
    const [request] = await store.pendingSignals("holder");
    assert.equal(request?.payload, 1);
    assert.equal(await store.signalRequestWaiting(request!.id), true);
  } finally {
    await store.close();
  }
});

Deno.test("RelayedSignals.send() stores nothing for an unknown or ended run", async () => {
  const { store, relay, end } = await relayOn("r4");
  try {
    await assert.rejects(
      relay.send("nope", "go", null),
      (error) => error instanceof AosError && error.code === "RUN_NOT_FOUND",
    );
    await store.append([end()], { status: "cancelled" });
    await assert.rejects(
      relay.send("r4", "go", null),
      (error) =>
        error instanceof AosError && error.code === "RUN_ALREADY_FINISHED",
    );
  } finally {
    await store.close();
  }
});

Deno.test("RelayedSignals.send() with a request id already waiting waits for that request instead of storing a second", async () => {
  const { store, clock, relay } = await relayOn("r5");
  try {
    const request = { id: "key_abc", run_id: "r5", name: "go", payload: 1 };
    assert.equal(await store.requestSignal(request), true);
    const sent = relay.send("r5", "go", 1, { request: "key_abc" });
    await nextLook(clock);
    assert.deepEqual(await store.pendingSignals("holder"), [request]);
    assert.equal(await store.dropSignalRequest("key_abc"), true);
    await nextLook(clock);
    assert.deepEqual(await sent, { status: "running", queued: false });
    // Without a request id of its own, a store failure is the sender's.
    await store.close();
    await assert.rejects(relay.send("r5", "go", 1));
  } finally {
    await store.close().catch(() => {});
  }
});
