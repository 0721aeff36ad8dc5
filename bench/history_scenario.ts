/**
 * `history`: the same measurements on a store holding 10,000 records and
 * one holding 1,000,000, to show that the cost of a run and of listing runs
 * does not grow with history. The history is real logs (copies of a run the
 * server made, re-sealed under new run ids) written through the store.
 */
import { join } from "node:path";
import {
  PostgresStore,
  type RunListQuery,
  type RunPage,
  SqliteStore,
  type Store,
} from "../src/store/mod.ts";
import { queryRows, startTestPostgres } from "../tests/support/postgres.ts";
import { ApiClient } from "./_http.ts";
import { type BenchResult, percentile } from "./_report.ts";
import { BenchServer } from "./_server.ts";
import { round, threeStepPlan } from "./runs_scenario.ts";
import { fillHistory, type LogTemplate } from "./store_scenarios.ts";

/** Sizes of the scenario. */
export interface HistoryOptions {
  recordsSmall: number;
  recordsLarge: number;
  sequentialRuns: number;
  concurrency: number;
  loadSeconds: number;
  listRequests: number;
  /** Alternating rounds over the two stores; figures are medians. */
  rounds: number;
  key?: string;
  env?: Record<string, string>;
}

/** The smoke variant's sizes (CI). */
export const HISTORY_SMOKE: HistoryOptions = {
  recordsSmall: 2_000,
  recordsLarge: 20_000,
  sequentialRuns: 20,
  concurrency: 8,
  loadSeconds: 1,
  listRequests: 20,
  rounds: 1,
};

/** The defaults: 10k against 1M records. */
export const HISTORY_DEFAULTS: HistoryOptions = {
  recordsSmall: 10_000,
  recordsLarge: 1_000_000,
  sequentialRuns: 200,
  concurrency: 32,
  loadSeconds: 5,
  listRequests: 200,
  rounds: 3,
};

interface Measured {
  runsPerS: number;
  sequentialP50Ms: number;
  listFirstP50Ms: number;
  listDeepP50Ms: number;
  listRunningP50Ms: number;
  storeListFirstP50Us: number;
  storeListDeepP50Us: number;
  storeListRunningP50Us: number;
}

/** A fresh copy of one of the two histories, for one round. */
interface StoreCopy {
  /** The server's data folder. */
  dataDir: string;
  /** Extra `aos serve` flags (the store's URL). */
  args: string[];
  /** The store itself, for the listings without HTTP. */
  open(): Promise<Store>;
  remove(): Promise<void>;
}

/** Where the two histories live: SQLite files, or PostgreSQL databases. */
interface HistoryStores {
  /** Writes history into the store `name` with `write`. */
  fill(
    name: "small" | "large",
    write: (store: Store) => Promise<number>,
  ): Promise<number>;
  copy(name: "small" | "large"): Promise<StoreCopy>;
  close(): Promise<void>;
}

/**
 * Runs the scenario on SQLite; takes a while at the defaults (1M records
 * are written). The two stores are measured in alternating rounds and each
 * figure is the median over the rounds, so that a burst of other work on
 * the machine does not land on one size only.
 */
export async function historyScenario(
  options: HistoryOptions = HISTORY_DEFAULTS,
): Promise<BenchResult> {
  return await historyOn(await sqliteHistories(), "history", options);
}

/**
 * `history_postgres`: the same on PostgreSQL, durable like `runs_postgres`
 * (a throwaway local server, or databases of their own on the server
 * `DATABASE_URL` names). The histories are vacuumed and analyzed once
 * written, as autovacuum leaves a database that has been in use; each round
 * measures a copy made from them (`CREATE DATABASE … TEMPLATE`).
 */
export async function historyOnPostgres(
  options: HistoryOptions = HISTORY_DEFAULTS,
): Promise<BenchResult> {
  const result = await historyOn(
    await postgresHistories(),
    "history_postgres",
    options,
  );
  return {
    ...result,
    notes:
      `${result.notes}; PostgreSQL with fsync and synchronous_commit on, each history vacuumed and analyzed once written, each round on a copy`,
  };
}

async function historyOn(
  stores: HistoryStores,
  scenario: string,
  options: HistoryOptions,
): Promise<BenchResult> {
  const captureDir = await Deno.makeTempDir({ prefix: "aos_bench_history_" });
  try {
    const { template, tenant } = await captureRun(captureDir, options);
    const fill = (name: "small" | "large", recordsMin: number) =>
      stores.fill(name, (store) =>
        fillHistory(store, template, {
          recordsMin,
          tenant,
          // Older than anything the server creates, as history is.
          startMs: Date.UTC(2020, 0, 1),
          firstRun: 0,
        }));
    const smallRecords = await fill("small", options.recordsSmall);
    const largeRecords = await fill("large", options.recordsLarge);
    const smallRounds: Measured[] = [];
    const largeRounds: Measured[] = [];
    // Each round adds thousands of runs; measuring a fresh copy of each
    // store keeps the small one small (10k records would reach ~100k by the
    // third round and hide a cost that grows with history).
    for (let round = 0; round < options.rounds; round++) {
      smallRounds.push(await measureCopy(stores, "small", tenant, options));
      largeRounds.push(await measureCopy(stores, "large", tenant, options));
    }
    const small = medians(smallRounds);
    const large = medians(largeRounds);
    const ratio = (a: number, b: number) => round(a / b, 3);
    const figures: Record<string, number> = {};
    for (const [name, key] of FIGURES) {
      figures[`${name}_small`] = small[key];
      figures[`${name}_large`] = large[key];
    }
    for (const [name, key] of FIGURES) {
      // Large over small: how much history changes the figure.
      figures[`${name}_ratio`] = ratio(large[key], small[key]);
    }
    const targets: BenchResult["targets"] = {};
    const directions: NonNullable<BenchResult["directions"]> = {};
    for (const [name] of FIGURES) {
      const higher = name.endsWith("per_s");
      targets[`${name}_ratio`] = higher
        ? { op: ">=", value: 0.9 }
        : { op: "<=", value: 1.1 };
      directions[`${name}_ratio`] = higher ? "higher" : "lower";
    }
    return {
      scenario,
      figures,
      targets,
      directions,
      notes:
        `stores of ${smallRecords} and ${largeRecords} records (copies of a real run's log), measured in ${options.rounds} alternating rounds, medians; per round: ${options.sequentialRuns} sequential runs, ${options.concurrency} lanes for ${options.loadSeconds} s, ${options.listRequests} GET /v1/runs?limit=50 each (first page; 20 pages deep; status=running), then the same listings on the store itself (store_list_*, µs, no HTTP)`,
    };
  } finally {
    await stores.close();
    await Deno.remove(captureDir, { recursive: true });
  }
}

/** The histories as SQLite files, copied file by file for each round. */
async function sqliteHistories(): Promise<HistoryStores> {
  const dirs = {
    small: await Deno.makeTempDir({ prefix: "aos_bench_history_" }),
    large: await Deno.makeTempDir({ prefix: "aos_bench_history_" }),
  };
  return {
    async fill(name, write) {
      const store = SqliteStore.open(join(dirs[name], "aos.db"));
      try {
        return await write(store);
      } finally {
        await store.close();
      }
    },
    async copy(name) {
      const copyDir = await Deno.makeTempDir({
        prefix: "aos_bench_history_",
      });
      // The stores are closed between rounds, so their files are whole.
      for await (const entry of Deno.readDir(dirs[name])) {
        if (!entry.isFile) continue;
        const copy = join(copyDir, entry.name);
        await Deno.copyFile(join(dirs[name], entry.name), copy);
        // On the disk before the server starts: a copy of the large store
        // left about 480 MB of dirty pages, which the kernel then wrote back
        // during the large store's measurement only, slowing its syncs
        // (runs/s at 1M was 0.82-0.92x that at 10k; synced first, 0.99-1.03x
        // in four runs of five).
        using file = await Deno.open(copy, { write: true });
        await file.syncData();
      }
      return {
        dataDir: copyDir,
        args: [],
        open: () => Promise.resolve(SqliteStore.open(join(copyDir, "aos.db"))),
        remove: () => Deno.remove(copyDir, { recursive: true }),
      };
    },
    async close() {
      await Deno.remove(dirs.small, { recursive: true });
      await Deno.remove(dirs.large, { recursive: true });
    },
  };
}

/** The histories as PostgreSQL databases, copied as templates for each round. */
async function postgresHistories(): Promise<HistoryStores> {
  const server = await startTestPostgres({ durable: true });
  const urlOf = (database: string) => {
    const url = new URL(server.url);
    url.pathname = `/${database}`;
    return url.toString();
  };
  // Run on the test database, whose role may create databases.
  const sql = async (text: string, database?: string) => {
    await queryRows(
      database === undefined ? server.url : urlOf(database),
      text,
    );
  };
  const suffix = crypto.randomUUID().slice(0, 8);
  const nameOf = (name: string) => `aos_history_${name}_${suffix}`;
  const made: string[] = [];
  let copies = 0;
  return {
    async fill(name, write) {
      await sql(`CREATE DATABASE ${nameOf(name)}`);
      made.push(nameOf(name));
      const store = await PostgresStore.open(urlOf(nameOf(name)));
      try {
        return await write(store);
      } finally {
        await store.close();
        await sql("VACUUM ANALYZE", nameOf(name));
      }
    },
    async copy(name) {
      const copy = `${nameOf(name)}_copy${copies++}`;
      await sql(`CREATE DATABASE ${copy} TEMPLATE ${nameOf(name)}`);
      const dataDir = await Deno.makeTempDir({
        prefix: "aos_bench_history_",
      });
      return {
        dataDir,
        args: ["--store", urlOf(copy)],
        open: () => PostgresStore.open(urlOf(copy), { migrate: false }),
        async remove() {
          await sql(`DROP DATABASE ${copy} WITH (FORCE)`);
          await Deno.remove(dataDir, { recursive: true });
        },
      };
    },
    async close() {
      for (const database of made) {
        await sql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      }
      await server.stop();
    },
  };
}

const FIGURES: [string, keyof Measured][] = [
  ["runs_per_s", "runsPerS"],
  ["sequential_p50_ms", "sequentialP50Ms"],
  ["list_p50_ms", "listFirstP50Ms"],
  ["list_deep_p50_ms", "listDeepP50Ms"],
  ["list_running_p50_ms", "listRunningP50Ms"],
  ["store_list_p50_us", "storeListFirstP50Us"],
  ["store_list_deep_p50_us", "storeListDeepP50Us"],
  ["store_list_running_p50_us", "storeListRunningP50Us"],
];

function medians(rounds: Measured[]): Measured {
  const median = (key: keyof Measured) =>
    percentile(rounds.map((round) => round[key]).sort((a, b) => a - b), 0.5);
  const result = {} as Measured;
  for (const [, key] of FIGURES) result[key] = median(key);
  return result;
}

/** Runs one real run to copy its log; returns the log and the run's tenant. */
async function captureRun(
  dataDir: string,
  options: HistoryOptions,
): Promise<{ template: LogTemplate; tenant: string }> {
  const server = await BenchServer.start({ dataDir, env: options.env ?? {} });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    const runId = await client.runToEnd(threeStepPlan(0));
    const view = await client.get(`/v1/runs/${runId}`);
    const events = await client.get(`/v1/runs/${runId}/events`);
    const template = (events.body.events as LogTemplate[number][]).map((
      record,
    ) => ({ type: record.type, body: record.body, at: record.at }));
    return { template, tenant: String(view.body.tenant) };
  } finally {
    await server.stop();
  }
}

async function measureCopy(
  stores: HistoryStores,
  name: "small" | "large",
  tenant: string,
  options: HistoryOptions,
): Promise<Measured> {
  const copy = await stores.copy(name);
  try {
    return await measure(copy, tenant, options);
  } finally {
    await copy.remove();
  }
}

async function measure(
  copy: StoreCopy,
  tenant: string,
  options: HistoryOptions,
): Promise<Measured> {
  const http = await measureServer(copy, options);
  const store = await copy.open();
  try {
    const time = async (query: RunListQuery) => {
      const latenciesUs: number[] = [];
      for (let call = 0; call < options.listRequests * 5; call++) {
        const started = performance.now();
        await store.listRuns(query);
        latenciesUs.push((performance.now() - started) * 1000);
      }
      return round(percentile(latenciesUs.sort((a, b) => a - b), 0.5), 1);
    };
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const listed: RunPage = await store.listRuns({
        tenant,
        limit: 50,
        ...(cursor === undefined ? {} : { cursor }),
      });
      if (listed.next_cursor === null) break;
      cursor = listed.next_cursor;
    }
    return {
      ...http,
      storeListFirstP50Us: await time({ tenant, limit: 50 }),
      storeListDeepP50Us: await time({
        tenant,
        limit: 50,
        ...(cursor === undefined ? {} : { cursor }),
      }),
      storeListRunningP50Us: await time({
        tenant,
        limit: 50,
        status: "running",
      }),
    };
  } finally {
    await store.close();
  }
}

async function measureServer(
  copy: StoreCopy,
  options: HistoryOptions,
): Promise<
  Omit<
    Measured,
    "storeListFirstP50Us" | "storeListDeepP50Us" | "storeListRunningP50Us"
  >
> {
  const server = await BenchServer.start({
    dataDir: copy.dataDir,
    args: copy.args,
    env: options.env ?? {},
  });
  try {
    const client = new ApiClient(server.url, { key: options.key });
    for (let run = 0; run < 50; run++) {
      await client.runToEnd(threeStepPlan(run));
    }
    const sequentialMs: number[] = [];
    for (let run = 0; run < options.sequentialRuns; run++) {
      const started = performance.now();
      await client.runToEnd(threeStepPlan(run));
      sequentialMs.push(performance.now() - started);
    }
    let index = 0;
    let runs = 0;
    const started = performance.now();
    const endAt = started + options.loadSeconds * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < endAt) {
          await client.runToEnd(threeStepPlan(index++));
          runs++;
        }
      }),
    );
    const runsPerS = runs / ((performance.now() - started) / 1000);
    // A page 20 pages deep (or the last one, in a small store).
    let cursor = "";
    for (let page = 0; page < 20; page++) {
      const listed = await client.get(`/v1/runs?limit=50${cursor}`);
      const next = listed.body.next_cursor;
      if (typeof next !== "string") break;
      cursor = `&cursor=${encodeURIComponent(next)}`;
    }
    return {
      runsPerS: round(runsPerS, 0),
      sequentialP50Ms: p50(sequentialMs),
      listFirstP50Ms: p50(
        await timeRequests(client, "/v1/runs?limit=50", options.listRequests),
      ),
      listDeepP50Ms: p50(
        await timeRequests(
          client,
          `/v1/runs?limit=50${cursor}`,
          options.listRequests,
        ),
      ),
      listRunningP50Ms: p50(
        await timeRequests(
          client,
          "/v1/runs?limit=50&status=running",
          options.listRequests,
        ),
      ),
    };
  } finally {
    await server.stop();
  }
}

async function timeRequests(
  client: ApiClient,
  path: string,
  count: number,
): Promise<number[]> {
  const latenciesMs: number[] = [];
  for (let request = 0; request < count; request++) {
    const started = performance.now();
    const response = await client.get(path);
    latenciesMs.push(performance.now() - started);
    if (response.status !== 200) {
      throw new Error(`GET ${path} answered ${response.status}`);
    }
  }
  return latenciesMs;
}

function p50(valuesMs: number[]): number {
  return round(percentile([...valuesMs].sort((a, b) => a - b), 0.5), 3);
}
