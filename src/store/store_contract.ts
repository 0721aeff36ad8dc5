import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import {
  emptyHead,
  headAfter,
  type LogHead,
  type LogRecord,
  sealRecord,
  sha256Hex,
  verifyChain,
} from "./record.ts";
import type { Store } from "./store.ts";
import { tenantStoreContract } from "./store_contract_tenants.ts";
import { idempotencyContract } from "./_store_contract_idempotency.ts";
import { parkingContract } from "./_store_contract_parking.ts";
import { signalRequestsContract } from "./_store_contract_signals.ts";
import { resumeRequestsContract } from "./_store_contract_resumes.ts";
import {
  commitOnlyAppendsContract,
  concurrentAppendsContract,
} from "./_store_contract_appends.ts";
import { admissionContract } from "./_store_contract_admission.ts";
import { budgetAppendsContract } from "./_store_contract_budget_appends.ts";

/** Opens a fresh, empty store; `second` opens another connection to the same one. */
export interface StoreFactory {
  open(): Promise<{ store: Store; second: () => Promise<Store> }>;
}

/** Builds a run's log in memory: `count` records after a RunSubmitted. */
export function fakeLog(
  runId: string,
  count: number,
  at = 1_700_000_000_000,
): LogRecord[] {
  const records: LogRecord[] = [];
  let head: LogHead = emptyHead(runId);
  for (let index = 0; index <= count; index++) {
    const record = sealRecord(head, {
      type: index === 0 ? "RunSubmitted" : "Note",
      body: { index },
      at: at + index,
    });
    records.push(record);
    head = headAfter(record);
  }
  return records;
}

function assertCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AosError, `expected AosError, got ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

/**
 * The conformance suite every `Store` passes, run unchanged against each
 * implementation: `storeContract("sqlite", factory)` registers its tests.
 */
export function storeContract(name: string, factory: StoreFactory): void {
  const test = (
    title: string,
    body: (store: Store, second: () => Promise<Store>) => Promise<void>,
  ) =>
    Deno.test(`${name} store: ${title}`, async () => {
      const { store, second } = await factory.open();
      try {
        await body(store, second);
      } finally {
        await store.close();
      }
    });

  test("createRun() writes the first record and the index row", async (store) => {
    const [first] = fakeLog("r1", 0);
    await store.createRun(first!, { tenant: "t1" });
    assert.deepEqual(await store.readLog("r1"), [first]);
    const summary = await store.getRun("r1");
    assert.equal(summary?.status, "running");
    assert.equal(summary?.tenant, "t1");
    assert.equal(summary?.digest, first!.hash);
    assert.equal(await store.getRun("missing"), undefined);
  });

  test("createRun() writes the records decided with the run, and the row ends at the last", async (store) => {
    const log = fakeLog("r1", 4);
    await store.createRun(log[0]!, { tenant: "t1", decided: log.slice(1, 3) });
    assert.deepEqual(await store.readLog("r1"), log.slice(0, 3));
    const summary = await store.getRun("r1");
    assert.equal(summary?.last_seq, 2);
    assert.equal(summary?.digest, log[2]!.hash);
    await store.append(log.slice(3), { status: "succeeded" });
    assert.deepEqual(await store.readLog("r1"), log);
    // Refused (the run exists): nothing decided is written either.
    const other = fakeLog("r1", 2);
    await assert.rejects(
      () =>
        store.createRun(other[0]!, { tenant: "t1", decided: other.slice(1) }),
      assertCode("STORE_RUN_EXISTS"),
    );
    assert.deepEqual(await store.readLog("r1"), log);
  });

  test("createRun() refuses a run id that exists", async (store) => {
    const [first] = fakeLog("r1", 0);
    await store.createRun(first!, { tenant: "t1" });
    await assert.rejects(
      () => store.createRun(first!, { tenant: "t1" }),
      assertCode("STORE_RUN_EXISTS"),
    );
  });

  test("append() extends the chain and keeps the index in step", async (store) => {
    const log = fakeLog("r1", 4);
    await store.createRun(log[0]!, { tenant: "t1" });
    await store.append(log.slice(1, 3));
    await store.append(log.slice(3), { status: "succeeded" });
    const read = await store.readLog("r1");
    assert.deepEqual(read, log);
    assert.equal(verifyChain(read), undefined);
    const summary = await store.getRun("r1");
    assert.equal(summary?.digest, log[4]!.hash);
    assert.equal(summary?.last_seq, 4);
    assert.equal(summary?.status, "succeeded");
    assert.deepEqual(await store.readLog("r1", { fromSeq: 3 }), log.slice(3));
  });

  test("append() refuses a stale sequence and writes nothing", async (store) => {
    const log = fakeLog("r1", 3);
    await store.createRun(log[0]!, { tenant: "t1" });
    await store.append([log[1]!]);
    await assert.rejects(
      () => store.append([log[1]!]),
      assertCode("STORE_SEQUENCE_CONFLICT"),
    );
    // a batch whose first record is stale is refused whole
    await assert.rejects(
      () => store.append(log.slice(1)),
      assertCode("STORE_SEQUENCE_CONFLICT"),
    );
    assert.deepEqual(await store.readLog("r1"), log.slice(0, 2));
  });

  test("append() refuses a record that skips ahead", async (store) => {
    const log = fakeLog("r1", 3);
    await store.createRun(log[0]!, { tenant: "t1" });
    await assert.rejects(
      () => store.append([log[2]!]),
      assertCode("STORE_SEQUENCE_CONFLICT"),
    );
    assert.equal((await store.getRun("r1"))?.last_seq, 0);
  });

  test("append() refuses a record chained to another history", async (store) => {
    const log = fakeLog("r1", 1);
    await store.createRun(log[0]!, { tenant: "t1" });
    const forged = sealRecord({
      run_id: "r1",
      next_seq: 1,
      last_hash: sha256Hex("other"),
    }, {
      type: "Note",
      body: {},
      at: 1,
    });
    await assert.rejects(
      () => store.append([forged]),
      assertCode("STORE_SEQUENCE_CONFLICT"),
    );
  });

  test("append() to an unknown run is RUN_NOT_FOUND", async (store) => {
    const log = fakeLog("nobody", 1);
    await assert.rejects(
      () => store.append([log[1]!]),
      assertCode("RUN_NOT_FOUND"),
    );
  });

  test(
    "two writers racing for one sequence number: exactly one wins",
    async (store, second) => {
      const other = await second();
      try {
        const log = fakeLog("r1", 0);
        await store.createRun(log[0]!, { tenant: "t1" });
        const head = headAfter(log[0]!);
        const mine = sealRecord(head, {
          type: "Note",
          body: { writer: "a" },
          at: 2,
        });
        const theirs = sealRecord(head, {
          type: "Note",
          body: { writer: "b" },
          at: 2,
        });
        const results = await Promise.allSettled([
          store.append([mine]),
          other.append([theirs]),
        ]);
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
        const rejected = results.find((r) =>
          r.status === "rejected"
        ) as PromiseRejectedResult;
        assertCode("STORE_SEQUENCE_CONFLICT")(rejected.reason);
        const read = await other.readLog("r1");
        assert.equal(read.length, 2);
        assert.equal(verifyChain(read), undefined);
      } finally {
        await other.close();
      }
    },
  );

  test("listRuns() pages newest first with filters and a cursor", async (store) => {
    for (let index = 0; index < 5; index++) {
      const [first] = fakeLog(`r${index}`, 0, 1000 + index);
      await store.createRun(first!, {
        tenant: index % 2 === 0 ? "even" : "odd",
      });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({
        limit: 2,
        ...(cursor === undefined ? {} : { cursor }),
      });
      assert.ok(page.runs.length <= 2);
      seen.push(...page.runs.map((run) => run.run_id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(seen, ["r4", "r3", "r2", "r1", "r0"]);
    const even = await store.listRuns({ limit: 10, tenant: "even" });
    assert.deepEqual(even.runs.map((run) => run.run_id), ["r4", "r2", "r0"]);
    assert.equal(even.next_cursor, null);
    await assert.rejects(
      () => store.listRuns({ limit: 1, cursor: "bogus" }),
      assertCode("VALIDATION_QUERY_INVALID"),
    );
  });

  test("listRuns() filters by skill and creation time, and pages within the filter", async (store) => {
    for (let index = 0; index < 6; index++) {
      const [first] = fakeLog(`r${index}`, 0, 1000 + index * 10);
      await store.createRun(first!, {
        tenant: "t",
        skills: index % 3 === 0 ? ["spin", "json_transform"] : ["spin"],
      });
    }
    const ids = (page: { runs: { run_id: string }[] }) =>
      page.runs.map((run) => run.run_id);
    assert.deepEqual(
      ids(await store.listRuns({ limit: 10, skill: "json_transform" })),
      ["r3", "r0"],
    );
    assert.deepEqual(
      ids(await store.listRuns({ limit: 10, skill: "nothing" })),
      [],
    );
    // created_at of rN is 1000 + 10N: [1010, 1040) holds r1, r2, r3.
    const window = { createdFromMs: 1010, createdBeforeMs: 1040 };
    assert.deepEqual(
      ids(await store.listRuns({ limit: 10, ...window })),
      ["r3", "r2", "r1"],
    );
    const firstPage = await store.listRuns({ limit: 2, ...window });
    assert.deepEqual(ids(firstPage), ["r3", "r2"]);
    assert.ok(firstPage.next_cursor !== null);
    const secondPage = await store.listRuns({
      limit: 2,
      ...window,
      cursor: firstPage.next_cursor,
    });
    assert.deepEqual(ids(secondPage), ["r1"]);
    assert.equal(secondPage.next_cursor, null);
    assert.deepEqual(
      ids(
        await store.listRuns({
          limit: 10,
          skill: "json_transform",
          tenant: "t",
          status: "running",
          createdFromMs: 1001,
        }),
      ),
      ["r3"],
    );
  });

  test("listRuns() pages through runs created in the same millisecond, with tenant and status filters", async (store) => {
    for (const id of ["a", "b", "c", "d", "e"]) {
      const log = fakeLog(id, 1, 5000);
      await store.createRun(log[0]!, { tenant: "t" });
      if (id !== "c") await store.append([log[1]!], { status: "succeeded" });
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listRuns({
        tenant: "t",
        status: "succeeded",
        limit: 2,
        ...(cursor === undefined ? {} : { cursor }),
      });
      seen.push(...page.runs.map((run) => run.run_id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    assert.deepEqual(seen, ["e", "d", "b", "a"]);
  });

  test("listUnfinishedRuns() leaves out finished runs", async (store) => {
    for (const id of ["a", "b", "c"]) {
      const log = fakeLog(id, 1);
      await store.createRun(log[0]!, { tenant: "t" });
      if (id === "b") await store.append([log[1]!], { status: "failed" });
    }
    assert.deepEqual(await store.listUnfinishedRuns(), ["a", "c"]);
    assert.equal(await store.countUnfinishedRuns(), 2);
    const running = await store.listRuns({ limit: 10, status: "failed" });
    assert.deepEqual(running.runs.map((run) => run.run_id), ["b"]);
  });

  idempotencyContract(test, fakeLog);
  concurrentAppendsContract(test, fakeLog);
  commitOnlyAppendsContract(test, fakeLog);
  admissionContract(test, fakeLog);
  budgetAppendsContract(test, fakeLog);

  test("modules are content-addressed and skills point at them", async (store) => {
    const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
    const sha = sha256Hex(bytes);
    await store.putModule(sha, bytes);
    await store.putModule(sha, bytes);
    assert.deepEqual(await store.getModule(sha), bytes);
    assert.equal(await store.getModule(sha256Hex("none")), undefined);
    await store.putSkill({
      name: "s",
      version: "1.0.0",
      sha256: sha,
      manifest: { name: "s" },
      installed_at: 5,
    });
    const kept = await store.putSkill({
      name: "s",
      version: "1.0.0",
      sha256: "other",
      manifest: {},
      installed_at: 9,
    });
    assert.equal(kept.sha256, sha, "an installed version was overwritten");
    assert.deepEqual(await store.listSkills(), [
      {
        name: "s",
        version: "1.0.0",
        sha256: sha,
        manifest: { name: "s" },
        installed_at: 5,
      },
    ]);
    assert.equal(await store.ping(), true);
  });

  const timing = (nowMs: number) => ({ nowMs, leaseMs: 100 });

  test("claimRuns() hands out running runs oldest first and raises the epoch", async (store) => {
    for (let index = 0; index < 4; index++) {
      const log = fakeLog(`r${index}`, 1, 1000 + index);
      await store.createRun(log[0]!, { tenant: "t" });
      if (index === 1) await store.append([log[1]!], { status: "succeeded" });
    }
    const first = await store.claimRuns("a", { ...timing(5000), limit: 2 });
    assert.deepEqual(first, [
      { run_id: "r0", owner: "a", epoch: 1, expires_at: 5100 },
      { run_id: "r2", owner: "a", epoch: 1, expires_at: 5100 },
    ]);
    const rest = await store.claimRuns("b", { ...timing(5000), limit: 10 });
    assert.deepEqual(rest.map((lease) => lease.run_id), ["r3"]);
    assert.deepEqual(
      await store.claimRuns("c", { ...timing(5099), limit: 10 }),
      [],
    );
    assert.deepEqual(await store.getLease("r2"), first[1]);
    assert.equal(await store.getLease("missing"), undefined);
  });

  test("createRun() with a lease creates the run held at epoch 1: nobody else claims it before the lease expires", async (store) => {
    const log = fakeLog("held", 2, 1000);
    await store.createRun(log[0]!, {
      tenant: "t",
      lease: { owner: "a", expires_at: 5100 },
    });
    const held = { run_id: "held", owner: "a", epoch: 1, expires_at: 5100 };
    assert.deepEqual(await store.getLease("held"), held);
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(5099), limit: 10 }),
      [],
    );
    assert.deepEqual(
      await store.renewLeases("a", [held], timing(5050)),
      [{ ...held, expires_at: 5150 }],
    );
    await store.append([log[1]!], { epoch: 1 });
    const taken = await store.claimRuns("b", { ...timing(5150), limit: 10 });
    assert.deepEqual(taken, [
      { run_id: "held", owner: "b", epoch: 2, expires_at: 5250 },
    ]);
    await assert.rejects(
      () => store.append([log[2]!], { epoch: 1 }),
      assertCode("STORE_LEASE_LOST"),
    );
  });

  test("paused runs are unfinished: claimRuns() hands them out and listUnfinishedRuns() lists them", async (store) => {
    for (const [index, status] of (["paused", "failed"] as const).entries()) {
      const log = fakeLog(`p${index}`, 1, 2000 + index);
      await store.createRun(log[0]!, { tenant: "t" });
      await store.append([log[1]!], { status });
    }
    assert.deepEqual(await store.listUnfinishedRuns(), ["p0"]);
    const leases = await store.claimRuns("a", { ...timing(5000), limit: 10 });
    assert.deepEqual(leases.map((lease) => lease.run_id), ["p0"]);
    assert.equal(await store.requestCancel("p0", "enough"), true);
    assert.equal(await store.requestCancel("p1", "enough"), false);
    assert.deepEqual(await store.pendingCancels("a"), [
      { run_id: "p0", reason: "enough" },
    ]);
    const page = await store.listRuns({ limit: 10, status: "paused" });
    assert.deepEqual(page.runs.map((run) => [run.run_id, run.status]), [[
      "p0",
      "paused",
    ]]);
  });

  test("snapshots, when a store keeps them: the latest by seq wins", async (store) => {
    if (store.putSnapshot === undefined || store.getSnapshot === undefined) {
      return;
    }
    const log = fakeLog("s0", 3, 1000);
    await store.createRun(log[0]!, { tenant: "t" });
    await store.append(log.slice(1));
    const snapshot = (seq: number) => ({
      run_id: "s0",
      seq,
      hash: log[seq]!.hash,
      log_bytes: 100 * seq,
      version: 1,
      state: { seq },
    });
    assert.equal(await store.getSnapshot("s0"), undefined);
    await store.putSnapshot(snapshot(2));
    await store.putSnapshot(snapshot(1));
    assert.deepEqual(await store.getSnapshot("s0"), snapshot(2));
    await store.putSnapshot(snapshot(3));
    assert.deepEqual(await store.getSnapshot("s0"), snapshot(3));
  });

  test("concurrent claimers never get the same run", async (store, second) => {
    const other = await second();
    try {
      const ids = Array.from({ length: 12 }, (_, index) => `r${index}`);
      for (const id of ids) {
        await store.createRun(fakeLog(id, 0)[0]!, { tenant: "t" });
      }
      const claims = await Promise.all([
        store.claimRuns("a", { ...timing(1), limit: 7 }),
        other.claimRuns("b", { ...timing(1), limit: 7 }),
        store.claimRuns("c", { ...timing(1), limit: 7 }),
      ]);
      const claimed = claims.flat().map((lease) => lease.run_id);
      assert.equal(
        new Set(claimed).size,
        claimed.length,
        "a run claimed twice",
      );
      assert.deepEqual([...claimed].sort(), [...ids].sort());
    } finally {
      await other.close();
    }
  });

  test("an expired lease passes to another node, and the old holder's appends are refused", async (store) => {
    const log = fakeLog("r1", 3);
    await store.createRun(log[0]!, { tenant: "t" });
    const [mine] = await store.claimRuns("a", { ...timing(1000), limit: 1 });
    assert.equal(mine?.epoch, 1);
    await store.append([log[1]!], { epoch: 1 });
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(1099), limit: 1 }),
      [],
    );
    const [theirs] = await store.claimRuns("b", { ...timing(1100), limit: 1 });
    assert.deepEqual(theirs, {
      run_id: "r1",
      owner: "b",
      epoch: 2,
      expires_at: 1200,
    });
    await assert.rejects(
      () => store.append([log[2]!], { epoch: 1 }),
      assertCode("STORE_LEASE_LOST"),
    );
    assert.deepEqual(
      await store.renewLeases("a", [{ run_id: "r1", epoch: 1 }], timing(1101)),
      [],
    );
    assert.equal(
      (await store.getRun("r1"))?.last_seq,
      1,
      "a refused append wrote",
    );
    await store.append([log[2]!], { epoch: 2 });
    await store.append([log[3]!], { epoch: 2, status: "succeeded" });
    assert.deepEqual(await store.readLog("r1"), log);
    assert.equal(
      (await store.getLease("r1"))?.owner,
      "",
      "a finished run keeps its lease",
    );
  });

  test("renewLeases() extends held leases; releaseLease() frees one at once", async (store) => {
    for (const id of ["a1", "a2"]) {
      await store.createRun(fakeLog(id, 0)[0]!, { tenant: "t" });
    }
    const held = await store.claimRuns("a", { ...timing(1000), limit: 2 });
    const renewed = await store.renewLeases("a", held, timing(1090));
    assert.deepEqual(
      renewed.map((lease) => [lease.run_id, lease.epoch, lease.expires_at]),
      [
        ["a1", 1, 1190],
        ["a2", 1, 1190],
      ],
    );
    assert.deepEqual(
      await store.claimRuns("b", { ...timing(1150), limit: 5 }),
      [],
    );
    // an expired lease nobody took is still the holder's to renew
    assert.equal((await store.renewLeases("a", held, timing(5000))).length, 2);
    await store.releaseLease({ run_id: "a1", epoch: 1 });
    await store.releaseLease({ run_id: "a2", epoch: 7 }); // a stale release does nothing
    const taken = await store.claimRuns("b", { ...timing(5001), limit: 5 });
    assert.deepEqual(taken.map((lease) => [lease.run_id, lease.epoch]), [[
      "a1",
      2,
    ]]);
  });

  test("claimRuns() leaves the claimer's own leases alone until releaseLeases()", async (store) => {
    for (const id of ["x", "y"]) {
      await store.createRun(fakeLog(id, 0)[0]!, { tenant: "t" });
    }
    await store.claimRuns("node", { ...timing(1000), limit: 5 });
    assert.deepEqual(
      await store.claimRuns("node", { ...timing(9000), limit: 5 }),
      [],
    );
    await store.releaseLeases("node");
    const again = await store.claimRuns("node", { ...timing(9000), limit: 5 });
    assert.deepEqual(again.map((lease) => [lease.run_id, lease.epoch]), [[
      "x",
      2,
    ], ["y", 2]]);
  });

  test("onRunnable() hears about new runs", async (store) => {
    let heard!: () => void;
    const woken = new Promise<void>((resolve) => heard = resolve);
    const stop = store.onRunnable(() => heard());
    try {
      await store.createRun(fakeLog("new", 0)[0]!, { tenant: "t" });
      await woken;
    } finally {
      stop();
    }
  });

  test("requestCancel() leaves a request the run's holder finds", async (store) => {
    const log = fakeLog("held", 1);
    await store.createRun(log[0]!, { tenant: "t" });
    await store.createRun(fakeLog("done", 1)[0]!, { tenant: "t" });
    await store.append([fakeLog("done", 1)[1]!], { status: "succeeded" });
    await store.claimRuns("a", { ...timing(1), limit: 5 });
    assert.deepEqual(await store.pendingCancels("a"), []);
    let heard!: () => void;
    const woken = new Promise<void>((resolve) => heard = resolve);
    const stop = store.onRunnable(() => heard());
    try {
      assert.equal(await store.requestCancel("held", "enough"), true);
      await woken;
    } finally {
      stop();
    }
    assert.equal(await store.requestCancel("done", "late"), false);
    assert.equal(await store.requestCancel("missing", "who"), false);
    assert.deepEqual(await store.pendingCancels("a"), [
      { run_id: "held", reason: "enough" },
    ]);
    assert.deepEqual(await store.pendingCancels("b"), []);
    await store.append([log[1]!], { status: "cancelled" });
    assert.deepEqual(await store.pendingCancels("a"), []);
  });

  tenantStoreContract(test);
  parkingContract(test);
  signalRequestsContract(test);
  resumeRequestsContract(test);
}
