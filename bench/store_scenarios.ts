/**
 * Store benchmarks: `store_append` (records/s from concurrent appenders,
 * durability on) and the history generator `history` builds on.
 */
import { join } from "node:path";
import {
  emptyHead,
  headAfter,
  type JsonObject,
  type LogHead,
  type LogRecord,
  sealRecord,
  SqliteStore,
  type Store,
} from "../src/store/mod.ts";
import { type BenchResult, percentile } from "./_report.ts";
import { round } from "./runs_scenario.ts";

/** Sizes of `store_append`. */
export interface StoreAppendOptions {
  appenders: number;
  seconds: number;
}

/** The defaults: 64 appenders (as many run actors) for 10 s. */
export const STORE_APPEND_DEFAULTS: StoreAppendOptions = {
  appenders: 64,
  seconds: 10,
};

// A step outcome of a typical size (about 400 bytes of canonical JSON).
function stepBody(index: number): JsonObject {
  return {
    step: `step-${index % 3}`,
    attempt: 1,
    output: {
      result: { n: index, name: `run-${index}`, tags: ["a", "b"], stage: 2 },
      result_hash: "9f2c".repeat(16),
    },
    output_sha256: "4d1a".repeat(16),
  };
}

/**
 * `store_append`: each appender is one run's writer, appending one record at
 * a time and waiting for each, as a run actor does; the store runs with
 * `synchronous=FULL`, so every acknowledged record is on disk.
 */
export async function storeAppend(
  options: StoreAppendOptions = STORE_APPEND_DEFAULTS,
): Promise<BenchResult> {
  const dir = await Deno.makeTempDir({ prefix: "aos_bench_store_" });
  const store = SqliteStore.open(join(dir, "aos.db"));
  try {
    const latenciesMs: number[] = [];
    let records = 0;
    const started = performance.now();
    const endAt = started + options.seconds * 1000;
    const appender = async (lane: number) => {
      let head: LogHead = emptyHead(`bench-${lane}`);
      const first = sealRecord(head, {
        type: "RunSubmitted",
        body: { lane },
        at: Date.now(),
      });
      await store.createRun(first, { tenant: "bench" });
      head = headAfter(first);
      while (performance.now() < endAt) {
        const record = sealRecord(head, {
          type: "StepSucceeded",
          body: stepBody(head.next_seq),
          at: Date.now(),
        });
        const before = performance.now();
        await store.append([record]);
        latenciesMs.push(performance.now() - before);
        head = headAfter(record);
        records++;
      }
    };
    await Promise.all(
      Array.from({ length: options.appenders }, (_, lane) => appender(lane)),
    );
    const seconds = (performance.now() - started) / 1000;
    latenciesMs.sort((a, b) => a - b);
    return {
      scenario: "store_append",
      figures: {
        records_per_s: round(records / seconds, 0),
        append_p50_ms: round(percentile(latenciesMs, 0.5), 3),
        append_p99_ms: round(percentile(latenciesMs, 0.99), 3),
      },
      targets: {},
      directions: {
        records_per_s: "higher",
        append_p50_ms: "lower",
        append_p99_ms: "lower",
      },
      notes:
        `${options.appenders} concurrent appenders for ${options.seconds} s, one ~400-byte record per append, SQLite synchronous=FULL (group commit)`,
    };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A run's log as a template: its records' types, bodies and times. */
export type LogTemplate = readonly Pick<LogRecord, "type" | "body" | "at">[];

/**
 * Writes copies of `template` as finished runs until the store holds at
 * least `recordsMin` records, through the store's own `createRun` and
 * `append` (many in flight at once, so group commit makes it fast).
 * Returns the number of records written.
 */
export async function fillHistory(
  store: Store,
  template: LogTemplate,
  options: {
    recordsMin: number;
    tenant: string;
    startMs: number;
    /** Number of the first run (copies are `hist-<number>`). */
    firstRun: number;
  },
): Promise<number> {
  const runs = options.firstRun +
    Math.ceil(options.recordsMin / template.length);
  const inFlightMax = 500;
  let written = 0;
  for (let start = options.firstRun; start < runs; start += inFlightMax) {
    const batch: Promise<void>[] = [];
    for (let run = start; run < Math.min(runs, start + inFlightMax); run++) {
      batch.push(writeCopy(store, template, run, options));
    }
    await Promise.all(batch);
    written += batch.length * template.length;
  }
  return written;
}

async function writeCopy(
  store: Store,
  template: LogTemplate,
  run: number,
  options: { tenant: string; startMs: number },
): Promise<void> {
  const runId = `hist-${String(run).padStart(8, "0")}`;
  let head = emptyHead(runId);
  const records = template.map((entry) => {
    const record = sealRecord(head, {
      type: entry.type,
      body: entry.body,
      at: options.startMs + run,
    });
    head = headAfter(record);
    return record;
  });
  await store.createRun(records[0]!, { tenant: options.tenant });
  await store.append(records.slice(1), { status: "succeeded" });
}
