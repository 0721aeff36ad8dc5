import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "./sqlite_store.ts";
import { fakeLog } from "./store_contract.ts";

// Tables that grow with history: a statement that reads every row of one
// costs more the longer the store has lived.
const GROWING = [
  "runs",
  "records",
  "run_skills",
  "run_snapshots",
  "idempotency_keys",
  "budget_entries",
];

/**
 * Why a plan step may still visit rows in order instead of seeking: it reads
 * a partial index of unfinished runs (live, claimable, or parked on a time:
 * however long the history, only those are in it), or the statement stops
 * after a page (`ORDER BY … LIMIT`).
 */
function scanAllowed(sql: string, detail: string): boolean {
  if (
    /USING (COVERING )?INDEX (runs_live|runs_claimable|runs_by_wake)\b/.test(
      detail,
    )
  ) return true;
  return /\bORDER BY\b[\s\S]*\bLIMIT\b/.test(sql);
}

Deno.test("SqliteStore: no statement the store prepares reads a growing table in full", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "aos-sqlite-plans-" });
  const path = join(dir, "aos.db");
  const prepared = new Set<string>();
  const prepare = DatabaseSync.prototype.prepare;
  DatabaseSync.prototype.prepare = function (this: DatabaseSync, sql: string) {
    prepared.add(sql);
    return prepare.call(this, sql);
  } as typeof prepare;
  try {
    const store = SqliteStore.open(path);
    const nowMs = Date.now();
    const timing = { nowMs, leaseMs: 30_000 };
    // History, and runs in every state the hot path meets.
    for (let run = 0; run < 200; run++) {
      const log = fakeLog(`done-${run}`, 3, 1_700_000_000_000 + run);
      await store.createRun(log[0]!, { tenant: "t", skills: ["s"] });
      await store.append(log.slice(1), { status: "succeeded" });
    }
    const held = fakeLog("held", 3);
    await store.createRun(held[0]!, {
      tenant: "t",
      lease: { owner: "n1", expires_at: nowMs + 30_000 },
    });
    await store.append(held.slice(1, 2), { epoch: 1 });
    const open = fakeLog("open", 2);
    await store.createRun(open[0]!, { tenant: "t" });
    const [claimed] = await store.claimRuns("n1", { ...timing, limit: 8 });
    assert.equal(claimed?.run_id, "open");
    await store.renewLeases("n1", [claimed!], timing);
    await store.requestCancel("held", "stop");
    await store.pendingCancels("n1");
    const signal = { id: "s1", run_id: "held", name: "go", payload: null };
    await store.requestSignal(signal);
    await store.pendingSignals("n1");
    await store.signalRequestWaiting(signal.id);
    await store.dropSignalRequest(signal.id);
    await store.countUnfinishedRuns();
    await store.listUnfinishedRuns();
    assert.equal(
      await store.parkRun(claimed!, { wakeAt: nowMs + 60_000 }),
      true,
    );
    await store.nextWakeAt();
    await store.claimRuns("n2", { ...timing, limit: 8 });
    const woken = await store.claimRun("n1", "open", timing);
    assert.ok(woken !== undefined);
    await store.releaseLease(woken);
    await store.putSnapshot({
      run_id: "held",
      seq: 1,
      hash: held[1]!.hash,
      log_bytes: 10,
      version: 1,
      state: {},
    });
    await store.getSnapshot("held");
    await store.readLog("held", { fromSeq: 1 });
    await store.getRun("held");
    await store.getLease("held");
    const first = await store.listRuns({ tenant: "t", limit: 50 });
    await store.listRuns({
      tenant: "t",
      limit: 50,
      cursor: first.next_cursor!,
    });
    await store.listRuns({ tenant: "t", status: "running", limit: 50 });
    await store.listRuns({ skill: "s", limit: 50 });
    await store.listRuns({ limit: 50, createdFromMs: 0 });
    await store.claimIdempotencyKey({
      tenant: "t",
      key: "k",
      fingerprint: "f",
      nowMs,
      lockedUntilMs: nowMs + 1000,
      expiresAtMs: nowMs + 60_000,
    });
    await store.releaseIdempotencyKey("t", "k", "f");
    for (const [key, cents] of [["b1", 5], ["b2", 0], ["b3", 99]] as const) {
      await store.reserveBudget({
        key,
        run_id: "held",
        tenant: "t",
        day: "2026-01-02",
        cents,
        default_limit_cents: 10,
      });
      await store.settleBudget(key, 1);
    }
    await store.reserveBudget({
      key: "b1",
      run_id: "held",
      tenant: "t",
      day: "2026-01-02",
      cents: 5,
      default_limit_cents: 10,
    });
    await store.releaseLeases("n1");
    await store.close();
  } finally {
    DatabaseSync.prototype.prepare = prepare;
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const scans: string[] = [];
    let explained = 0;
    for (const sql of prepared) {
      if (!/^\s*(SELECT|INSERT|UPDATE|DELETE)\b/i.test(sql)) continue;
      explained++;
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as {
        detail: string;
      }[];
      for (const { detail } of plan) {
        const scanned = /^SCAN (\w+)/.exec(detail)?.[1];
        if (scanned === undefined || !GROWING.includes(scanned)) continue;
        if (!scanAllowed(sql, detail)) scans.push(`${detail}: ${sql}`);
      }
    }
    assert.ok(explained >= 25, `only ${explained} statements were seen`);
    assert.deepEqual(scans, []);
  } finally {
    db.close();
  }
});
