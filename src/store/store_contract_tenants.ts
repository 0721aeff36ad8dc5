import assert from "node:assert/strict";
import { AosError } from "../errors/mod.ts";
import type { Store } from "./store.ts";
import type { ApiKeyRecord } from "./tenant_records.ts";

type ContractTest = (
  title: string,
  body: (store: Store, second: () => Promise<Store>) => Promise<void>,
) => void;

function key(
  keyId: string,
  tenant: string | null,
  createdAt = 1,
): ApiKeyRecord {
  return {
    key_id: keyId,
    role: tenant === null ? "admin" : "tenant",
    tenant,
    sha256: `sha-${keyId}`,
    created_at: createdAt,
    revoked_at: null,
  };
}

function isCode(code: string): (error: unknown) => boolean {
  return (error) =>
    error instanceof AosError && error.code === code ||
    assert.fail(`expected ${code}, got ${error}`);
}

/** The conformance cases of tenants, API keys and the budget ledger. */
export function tenantStoreContract(test: ContractTest): void {
  test("tenants are created once and listed by id", async (store) => {
    await store.createTenant({ id: "b", created_at: 1, daily_budget_cents: 5 });
    await store.createTenant({
      id: "a",
      created_at: 2,
      daily_budget_cents: null,
    });
    await assert.rejects(
      () =>
        store.createTenant({ id: "a", created_at: 3, daily_budget_cents: 1 }),
      isCode("TENANT_EXISTS"),
    );
    assert.deepEqual(await store.getTenant("b"), {
      id: "b",
      created_at: 1,
      daily_budget_cents: 5,
    });
    assert.equal(await store.getTenant("zz"), undefined);
    assert.deepEqual((await store.listTenants()).map((t) => t.id), ["a", "b"]);
  });

  test("API keys are found by digest until revoked or rotated", async (store) => {
    await store.createTenant({
      id: "t",
      created_at: 1,
      daily_budget_cents: null,
    });
    await store.putApiKey(key("k1", "t", 1));
    await store.putApiKey(key("k2", "t", 2));
    await store.putApiKey(key("adm", null, 3));
    assert.equal((await store.findApiKey("sha-k1"))?.tenant, "t");
    assert.equal((await store.findApiKey("sha-adm"))?.role, "admin");
    const revoked = await store.revokeApiKey("k1", 10);
    assert.equal(revoked?.revoked_at, 10);
    assert.equal(await store.findApiKey("sha-k1"), undefined);
    assert.equal(await store.revokeApiKey("nope", 10), undefined);
    await store.putApiKey(key("k3", "t", 20), { revokeOthers: true });
    assert.equal(await store.findApiKey("sha-k2"), undefined);
    assert.equal((await store.findApiKey("sha-k3"))?.key_id, "k3");
    assert.ok(await store.findApiKey("sha-adm"), "rotation reached the admin");
    const listed = await store.listApiKeys("t");
    assert.deepEqual(
      listed.map((k) => [k.key_id, k.revoked_at]),
      [["k1", 10], ["k2", 20], ["k3", null]],
    );
  });

  test("seedApiKeys() seeds an empty store only", async (store) => {
    const tenant = { id: "default", created_at: 1, daily_budget_cents: null };
    assert.equal(
      await store.seedApiKeys([tenant], [key("a", null), key("d", "default")]),
      true,
    );
    assert.equal(
      await store.seedApiKeys([tenant], [key("b", null)]),
      false,
    );
    assert.equal(await store.findApiKey("sha-b"), undefined);
    assert.equal((await store.findApiKey("sha-d"))?.tenant, "default");
    assert.deepEqual((await store.listTenants()).map((t) => t.id), [
      "default",
    ]);
  });

  test("reserveBudget() grants within the limit, once per key", async (store) => {
    const ask = (k: string, cents: number) =>
      store.reserveBudget({
        key: k,
        run_id: "r",
        tenant: "t",
        day: "2026-01-02",
        cents,
        limit_cents: 10,
      });
    assert.equal((await ask("a", 6)).granted, true);
    const again = await ask("a", 6);
    assert.equal(again.granted, true);
    assert.equal(again.reserved_cents, 6, "a repeated key reserved twice");
    const nextDay = await store.reserveBudget({
      key: "a",
      run_id: "r",
      tenant: "t",
      day: "2026-01-03",
      cents: 6,
      limit_cents: 10,
    });
    assert.equal(nextDay.day, "2026-01-02", "a held key answers with its day");
    assert.equal(nextDay.granted, true);
    const refused = await ask("b", 5);
    assert.deepEqual(refused, {
      granted: false,
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 0,
      reserved_cents: 6,
    });
    assert.equal((await ask("c", 4)).granted, true);
    await store.settleBudget("a", 2);
    await store.settleBudget("a", 6);
    await store.settleBudget("unknown", 6);
    assert.deepEqual(await store.budgetDay("t", "2026-01-02"), {
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 2,
      reserved_cents: 4,
    });
    assert.equal((await ask("d", 4)).granted, true, "released cents are free");
    assert.equal((await ask("e", 1)).granted, false);
    assert.deepEqual(
      (await store.openBudgetEntries()).map((entry) => entry.key),
      ["c", "d"],
    );
    assert.deepEqual(
      (await store.budgetEntries("t", "2026-01-02")).map((entry) => [
        entry.key,
        entry.reserved_cents,
        entry.charged_cents,
      ]),
      [["a", 6, 2], ["c", 4, null], ["d", 4, null]],
    );
    assert.deepEqual(await store.budgetDay("t", "2026-01-03"), {
      tenant: "t",
      day: "2026-01-03",
      spent_cents: 0,
      reserved_cents: 0,
    });
  });

  test("a zero-cent reservation is granted while its day is within the limit", async (store) => {
    const ask = (k: string, cents: number) =>
      store.reserveBudget({
        key: k,
        run_id: "r",
        tenant: "t",
        day: "2026-01-02",
        cents,
        limit_cents: 10,
      });
    assert.deepEqual(await ask("z0", 0), {
      granted: true,
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 0,
      reserved_cents: 0,
    });
    assert.equal((await ask("a", 10)).granted, true);
    assert.deepEqual(await ask("z1", 0), {
      granted: true,
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 0,
      reserved_cents: 10,
    }, "a day at its limit still has room for nothing");
    await store.settleBudget("a", 12);
    await store.settleBudget("z1", 3);
    assert.deepEqual(await ask("z2", 0), {
      granted: false,
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 15,
      reserved_cents: 0,
    }, "a day past its limit refuses even nothing");
    assert.equal(
      (await ask("z0", 0)).granted,
      true,
      "a held key stays granted",
    );
    await store.settleBudget("z0", 0);
    assert.deepEqual(
      (await store.budgetEntries("t", "2026-01-02")).map((entry) => [
        entry.key,
        entry.reserved_cents,
        entry.charged_cents,
      ]),
      [["a", 10, 12], ["z0", 0, 0], ["z1", 0, 3]],
    );
    assert.deepEqual(await store.budgetDay("t", "2026-01-02"), {
      tenant: "t",
      day: "2026-01-02",
      spent_cents: 15,
      reserved_cents: 0,
    });
  });

  test("concurrent settlements: each key is charged once, and the days add up", async (store) => {
    const keys = Array.from({ length: 30 }, (_, index) => `s${index}`);
    for (const [index, key] of keys.entries()) {
      const answer = await store.reserveBudget({
        key,
        run_id: `r${index}`,
        tenant: "t",
        day: index % 3 === 0 ? "2026-01-03" : "2026-01-02",
        cents: index % 2,
        limit_cents: 1_000,
      });
      assert.equal(answer.granted, true);
    }
    // Every key settled twice at once (the first charge counts), plus
    // keys nobody reserved.
    await Promise.all([
      ...keys.map((key, index) => store.settleBudget(key, index)),
      ...keys.map((key) => store.settleBudget(key, 999)),
      store.settleBudget("unknown", 5),
    ]);
    const spent = (day: string) =>
      keys.reduce(
        (sum, _, index) =>
          sum + ((index % 3 === 0) === (day === "2026-01-03") ? index : 0),
        0,
      );
    for (const day of ["2026-01-02", "2026-01-03"]) {
      assert.deepEqual(await store.budgetDay("t", day), {
        tenant: "t",
        day,
        spent_cents: spent(day),
        reserved_cents: 0,
      });
    }
    assert.deepEqual(await store.openBudgetEntries(), []);
    const entries = [
      ...await store.budgetEntries("t", "2026-01-02"),
      ...await store.budgetEntries("t", "2026-01-03"),
    ];
    assert.equal(entries.length, keys.length);
    for (const entry of entries) {
      assert.equal(entry.charged_cents, Number(entry.key.slice(1)));
    }
  });

  test(
    "50 racing reservations against a limit that fits 49: 49 granted",
    async (store, second) => {
      const other = await second();
      try {
        const answers = await Promise.all(
          Array.from(
            { length: 50 },
            (_, index) =>
              (index % 2 === 0 ? store : other).reserveBudget({
                key: `k${index}`,
                run_id: `r${index}`,
                tenant: "t",
                day: "2026-01-02",
                cents: 3,
                limit_cents: 49 * 3,
              }),
          ),
        );
        assert.equal(answers.filter((answer) => answer.granted).length, 49);
        const day = await other.budgetDay("t", "2026-01-02");
        assert.equal(day.reserved_cents, 147);
        assert.equal((await store.openBudgetEntries()).length, 49);
      } finally {
        await other.close();
      }
    },
  );
}
