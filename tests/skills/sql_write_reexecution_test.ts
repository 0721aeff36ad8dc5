// A skill granted sql:write, re-executed after its node died between the
// statement's commit and the answer's record: the real sandbox, the real SQL
// service and a real PostgreSQL. The statement is applied once; the
// re-execution answers what the first execution committed.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { HostCallPort, StepOutcome } from "../../actors/run_ports.ts";
import type { HostCallBody } from "../../actors/run_messages.ts";
import { SeededRandom, SimulatedClock } from "../../src/deps/mod.ts";
import { Sandbox } from "../../src/sandbox/mod.ts";
import { sqlService } from "../../src/sandbox/services/sql.ts";
import { PROJECT_ROOT } from "../../src/skills/build.ts";
import { parseManifest } from "../../src/skills/manifest.ts";
import { startTestPostgres } from "../support/postgres.ts";
import { pinOf, skillModule } from "./_harness.ts";

// postgres_query's module shipped by a third party with the write grant.
const SKILL_DIR = "skills-wasm/postgres_query";
const bytes = await skillModule(SKILL_DIR);
const manifest = {
  ...parseManifest(
    Deno.readTextFileSync(join(PROJECT_ROOT, SKILL_DIR, "manifest.yaml")),
  ),
  name: "order_writer",
  permissions: ["sql:write"],
};
const PIN = pinOf(manifest, bytes);

/** Executes step `book` of `run_1`; `crash` fails the sql answer's record. */
async function execute(
  sandbox: Sandbox,
  options: { crash: boolean; attempt?: number },
): Promise<{ outcome: StepOutcome; persisted: HostCallBody[] }> {
  const persisted: HostCallBody[] = [];
  const port: HostCallPort = {
    recorded: [],
    persist(call) {
      if (options.crash && call.kind === "sql") {
        return Promise.reject(new Error("the node died here"));
      }
      persisted.push(call);
      return Promise.resolve();
    },
  };
  const outcome = await sandbox.execute({
    run_id: "run_1",
    step: "book",
    attempt: options.attempt ?? 1,
    pin: PIN,
    input: {
      datasource: "main",
      query: "insert into orders (item) values ($1) returning id, item",
      params: ["tea"],
    },
    hostCalls: port,
  });
  return { outcome, persisted };
}

Deno.test("a write re-executed after its node died before recording the answer is applied once", async () => {
  await using database = await startTestPostgres();
  await database.exec(
    "create table orders (id serial primary key, item text not null)",
  );
  const sql = sqlService({ datasources: { main: { url: database.url } } });
  const sandbox = new Sandbox({
    modules: { module: () => Promise.resolve({ bytes, manifest }) },
    clock: new SimulatedClock(1_700_000_000_000),
    random: new SeededRandom(1),
    poolSizeMax: 1,
    services: { sql },
  });
  const orders = async () =>
    (await sql.answer(
      { datasource: "main", sql: "select id, item from orders order by id" },
      { permissions: ["sql"], run_id: "check", step: "check" },
    ) as { rows: unknown[][] }).rows;
  try {
    // The statement commits, then the node dies before the answer is in
    // the log: the step never finishes there.
    const crashed = await execute(sandbox, { crash: true });
    assert.equal(crashed.outcome.ok, false);
    assert.deepEqual(crashed.persisted, []);
    assert.deepEqual(await orders(), [[1, "tea"]]);

    // The node that takes the run over executes the same attempt again,
    // with nothing recorded: the statement is not applied a second time.
    const again = await execute(sandbox, { crash: false });
    assert.equal(again.outcome.ok, true, JSON.stringify(again.outcome));
    assert.deepEqual(await orders(), [[1, "tea"]]);
    const [call] = again.persisted;
    assert.equal(call?.kind, "sql");
    assert.deepEqual((call?.result as { rows: unknown }).rows, [[1, "tea"]]);

    // A retry is a new attempt, and a new write.
    const retry = await execute(sandbox, { crash: false, attempt: 2 });
    assert.equal(retry.outcome.ok, true);
    assert.deepEqual(await orders(), [[1, "tea"], [2, "tea"]]);
  } finally {
    await sandbox.close();
    await sql.close();
  }
});
