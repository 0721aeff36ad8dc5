import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import type { LogRecord } from "./record.ts";
import type { IdempotencyClaim, Store } from "./store.ts";

/** Registers one test of the conformance suite. */
export type ContractTest = (
  title: string,
  body: (store: Store, second: () => Promise<Store>) => Promise<void>,
) => void;

const HOUR_MS = 3_600_000;

function claimAt(nowMs: number, overrides: Partial<IdempotencyClaim> = {}) {
  return {
    tenant: "t1",
    key: "key-1",
    fingerprint: "f".repeat(64),
    nowMs,
    lockedUntilMs: nowMs + 60_000,
    expiresAtMs: nowMs + 24 * HOUR_MS,
    ...overrides,
  };
}

/** The idempotency-key part of the conformance suite. */
export function idempotencyContract(
  test: ContractTest,
  fakeLog: (runId: string, count: number) => LogRecord[],
): void {
  test("claimIdempotencyKey() claims a key once per tenant", async (store) => {
    assert.deepEqual(await store.claimIdempotencyKey(claimAt(1000)), {
      claimed: true,
    });
    const again = await store.claimIdempotencyKey(
      claimAt(2000, { fingerprint: "e".repeat(64) }),
    );
    assert.equal(again.claimed, false);
    if (again.claimed) return;
    assert.equal(again.entry.state, "pending");
    assert.equal(again.entry.fingerprint, "f".repeat(64));
    assert.equal(again.entry.response, null);
    assert.equal(again.entry.created_at, 1000);
    // Keys are scoped by tenant.
    assert.deepEqual(
      await store.claimIdempotencyKey(claimAt(2000, { tenant: "t2" })),
      { claimed: true },
    );
  });

  test("createRun() completes the key's claim in the same transaction", async (store) => {
    const claim = claimAt(1000);
    await store.claimIdempotencyKey(claim);
    const [first] = fakeLog("r1", 0);
    const response = { run_id: "r1", status: "running" };
    await store.createRun(first!, {
      tenant: "t1",
      idempotency: { key: claim.key, fingerprint: claim.fingerprint, response },
    });
    const entry = await store.claimIdempotencyKey(claimAt(5000));
    assert.equal(entry.claimed, false);
    if (entry.claimed) return;
    assert.deepEqual(entry.entry, {
      fingerprint: claim.fingerprint,
      state: "completed",
      run_id: "r1",
      response,
      created_at: 1000,
      expires_at: claim.expiresAtMs,
    });
    // A completed key is not taken over when its lock has passed.
    const late = await store.claimIdempotencyKey(
      claimAt(claim.expiresAtMs - 1),
    );
    assert.equal(late.claimed, false);
  });

  test("createRun() with a claim that is not pending creates nothing", async (store) => {
    const [first] = fakeLog("r1", 0);
    await assert.rejects(
      () =>
        store.createRun(first!, {
          tenant: "t1",
          idempotency: { key: "never-claimed", fingerprint: "a", response: {} },
        }),
      (error) =>
        error instanceof AosError &&
        error.code === "IDEMPOTENCY_KEY_IN_PROGRESS",
    );
    assert.equal(await store.getRun("r1"), undefined);
    assert.deepEqual(await store.readLog("r1"), []);
  });

  test("completeIdempotencyKey() completes a pending claim with its response, once, and only with its fingerprint", async (store) => {
    const claim = claimAt(1000);
    await store.claimIdempotencyKey(claim);
    const completion = {
      tenant: claim.tenant,
      key: claim.key,
      fingerprint: claim.fingerprint,
      run_id: "r1",
      response: { run_id: "r1", signal: "go" },
    };
    const inProgress = (error: unknown) =>
      error instanceof AosError && error.code === "IDEMPOTENCY_KEY_IN_PROGRESS";
    await assert.rejects(
      store.completeIdempotencyKey({ ...completion, fingerprint: "other" }),
      inProgress,
    );
    await store.completeIdempotencyKey(completion);
    await assert.rejects(store.completeIdempotencyKey(completion), inProgress);
    const entry = await store.claimIdempotencyKey(claimAt(5000));
    assert.equal(entry.claimed, false);
    if (entry.claimed) return;
    assert.equal(entry.entry.state, "completed");
    assert.equal(entry.entry.run_id, "r1");
    assert.deepEqual(entry.entry.response, completion.response);
  });

  test("idempotency keys expire, abandoned claims are taken over, released claims are free", async (store) => {
    const claim = claimAt(1000);
    await store.claimIdempotencyKey(claim);
    // Pending and still locked: not claimable.
    assert.equal(
      (await store.claimIdempotencyKey(claimAt(claim.lockedUntilMs - 1)))
        .claimed,
      false,
    );
    // Its request died: once the lock passed, the key is claimable again.
    const takeOver = claimAt(claim.lockedUntilMs, {
      fingerprint: "b".repeat(64),
    });
    assert.deepEqual(await store.claimIdempotencyKey(takeOver), {
      claimed: true,
    });
    // Releasing with another fingerprint leaves the claim alone.
    await store.releaseIdempotencyKey("t1", claim.key, claim.fingerprint);
    assert.equal(
      (await store.claimIdempotencyKey(claimAt(takeOver.nowMs + 1))).claimed,
      false,
    );
    await store.releaseIdempotencyKey("t1", claim.key, takeOver.fingerprint);
    assert.deepEqual(
      await store.claimIdempotencyKey(claimAt(takeOver.nowMs + 2)),
      { claimed: true },
    );
    // A completed key is forgotten once it expires.
    const [first] = fakeLog("r1", 0);
    await store.createRun(first!, {
      tenant: "t1",
      idempotency: {
        key: claim.key,
        fingerprint: claim.fingerprint,
        response: { run_id: "r1" },
      },
    });
    const expiry = takeOver.nowMs + 2 + 24 * HOUR_MS;
    assert.equal(
      (await store.claimIdempotencyKey(claimAt(expiry - 1))).claimed,
      false,
    );
    assert.deepEqual(await store.claimIdempotencyKey(claimAt(expiry)), {
      claimed: true,
    });
  });

  test(
    "two connections racing to claim one key: exactly one wins",
    async (store, second) => {
      const other = await second();
      try {
        const results = await Promise.all([
          store.claimIdempotencyKey(claimAt(1000)),
          other.claimIdempotencyKey(claimAt(1000, { fingerprint: "c" })),
        ]);
        assert.equal(results.filter((result) => result.claimed).length, 1);
      } finally {
        await other.close();
      }
    },
  );
}
