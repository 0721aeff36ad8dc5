import { resolve } from "node:path";
import type { Hono } from "hono";
import { Runtime } from "../../actors/runtime.ts";
import type { SupervisorOptions } from "../../actors/supervisor.ts";
import type { StepExecutor } from "../../actors/run_ports.ts";
import { createApp } from "../api/mod.ts";
import { BudgetLedger, utcDay } from "../budget/mod.ts";
import { ApiKeyCache, bootstrapKeys, TenantAdmin } from "../tenants/mod.ts";
import type { NodeConfig } from "../config/mod.ts";
import {
  type Clock,
  jsonLogger,
  liveClock,
  liveRandom,
  type Logger,
  type RandomSource,
} from "../deps/mod.ts";
import { Metrics, type TenantSpend, timed } from "../metrics/mod.ts";
import {
  DEFAULT_OUTPUT_LIMITS,
  GuardedHttpClient,
  liveResolver,
  Sandbox,
} from "../sandbox/mod.ts";
import { buildSkills, findSkillDirs, PROJECT_ROOT } from "../skills/build.ts";
import { SkillRegistry } from "../skills/registry.ts";
import { mockCalendarService } from "../sandbox/services/calendar.ts";
import { sqlService } from "../sandbox/services/sql.ts";
import { openStore } from "./open_store.ts";
import { sha256Hex, type Store } from "../store/mod.ts";

/** One AOS node: store, registry, sandbox, runtime and API, wired. */
export interface AosNode {
  app: Hono;
  runtime: Runtime;
  registry: SkillRegistry;
  store: Store;
  metrics: Metrics;
  log: Logger;
  close(): Promise<void>;
}

/** Seams a test may replace; the live ones are used otherwise. */
export interface NodeSeams {
  clock?: Clock;
  random?: RandomSource;
  log?: Logger;
  store?: Store;
  supervisor?: Partial<SupervisorOptions>;
  /** Paces leases and claim polling (the live clock otherwise). */
  leaseClock?: Clock;
  /** Wraps the sandbox as the runs' executor (a test watching executions). */
  executor?: (sandbox: StepExecutor) => StepExecutor;
}

/**
 * Opens a node: the store (`config.store`: SQLite under `dataDir`, or
 * PostgreSQL; a given one wins),
 * built-in skills from `skills-wasm/` (built first when stale) plus the
 * configured extra folders, then resumes every unfinished run.
 */
export async function openNode(
  config: NodeConfig,
  seams: NodeSeams = {},
): Promise<AosNode> {
  const clock = seams.clock ?? liveClock;
  const random = seams.random ?? liveRandom;
  const log = seams.log ?? jsonLogger(config.logLevel, () => clock.nowMs());
  // Only the embedded default makes development keys; a shared store is
  // seeded from AOS_BOOTSTRAP_* or by an admin.
  const embedded = seams.store === undefined && config.store === "sqlite";
  const metrics = new Metrics();
  const opened = seams.store ?? await openStore(config);
  const store = timed(
    opened,
    ["createRun", "append"],
    (_method, seconds) => metrics.storeAppendSeconds.observe(seconds),
  );
  metrics.watchDbPool(() => dbPoolAvailable(opened));
  metrics.watchStoreSyncs(() => opened.durability().syncs);
  metrics.watchTenantSpend(() => tenantSpendToday(opened, clock.nowMs()));
  const registry = timed(
    await SkillRegistry.open(store, {
      limits: {
        memoryMbMax: config.limits.memoryMbMax,
        moduleBytesMax: config.limits.moduleBytesMax,
      },
    }),
    ["install", "installDir", "pin", "module"],
    (op, seconds) => metrics.registryOperationSeconds.observe({ op }, seconds),
  );
  const dirs = [
    ...findSkillDirs(PROJECT_ROOT, { fixtures: false }),
    ...config.extraSkillDirs.map((dir) => resolve(dir)),
  ];
  for (const built of await buildSkills(dirs, { ifStale: true })) {
    const { skill, created } = await registry.installDir(built.dir, {
      installedAt: clock.nowMs(),
    })
      .catch((error) => {
        throw new Error(
          `cannot register the skill in ${built.dir}: ${
            error instanceof Error ? error.message : error
          }`,
          {
            cause: error,
          },
        );
      });
    log.log("info", created ? "skill_installed" : "skill_present", {
      skill: skill.name,
      version: skill.version,
      sha256: skill.sha256,
    });
  }
  const http = {
    client: new GuardedHttpClient({
      resolver: liveResolver(
        config.http.dnsServer === undefined
          ? {}
          : { nameServer: config.http.dnsServer },
      ),
      loopbackAllowlist: config.http.loopbackAllowlist,
      externalEnabled: config.http.externalEnabled,
      bodyMaxBytes: config.http.bodyBytesMax,
      timeoutMsMax: config.limits.timeoutMsMax,
      clock,
    }),
    secrets: config.secrets,
  };
  const calendar = mockCalendarService();
  const sql = sqlService({ datasources: config.datasources });
  const sandbox = new Sandbox({
    services: { calendar, sql },
    modules: registry,
    clock,
    random,
    poolSizeMax: config.poolSizeMax,
    http,
    limits: {
      timeoutMsMax: config.limits.timeoutMsMax,
      memoryMbMax: config.limits.memoryMbMax,
      moduleBytesMax: config.limits.moduleBytesMax,
      output: {
        ...DEFAULT_OUTPUT_LIMITS,
        bytesMax: config.limits.outputBytesMax,
      },
    },
  });
  const budget = new BudgetLedger(store, {
    dailyBudgetCentsDefault: config.tenantDailyBudgetCents,
    clock,
    log,
  });
  await seedKeys(store, config, {
    random,
    log,
    nowMs: clock.nowMs(),
    generate: embedded,
  });
  metrics.watchWorkerPool(() => sandbox.poolStats());
  const runtime = new Runtime({
    ...(seams.supervisor === undefined ? {} : { supervisor: seams.supervisor }),
    store,
    budget,
    registry,
    executor: seams.executor?.(sandbox) ?? sandbox,
    clock,
    random,
    log,
    metrics,
    ownership: {
      nodeId: config.ownership.nodeId,
      leaseMs: config.ownership.leaseMs,
      pollMs: config.ownership.pollMs,
      runsMax: config.ownership.runsMax,
      ...(config.ownership.parkMinMs === undefined
        ? {}
        : { parkMinMs: config.ownership.parkMinMs }),
    },
    leaseClock: seams.leaseClock ?? liveClock,
    logLimits: config.runLog,
  });
  // Operational time: a run's simulated clock must not freeze the cache.
  const apiKeys = new ApiKeyCache(store, {
    nowMs: () => (seams.leaseClock ?? liveClock).nowMs(),
  });
  const app = createApp({
    calendar,
    runtime,
    registry,
    store,
    metrics,
    log,
    adminKeySha256: config.adminKey === undefined
      ? undefined
      : sha256Hex(config.adminKey),
    apiKeys,
    tenants: new TenantAdmin({ store, random, nowMs: () => clock.nowMs() }),
    budget,
    nowMs: () => clock.nowMs(),
    limits: {
      runsActiveMax: config.runsActiveMax,
      idempotencyRetentionMs: config.idempotencyRetentionHours * 3_600_000,
    },
  });
  await runtime.resumeUnfinished();
  return {
    app,
    runtime,
    registry,
    store,
    metrics,
    log,
    async close() {
      apiKeys.close();
      await runtime.close();
      await sandbox.close();
      await sql.close();
      await store.close();
      // Held lines are written now, not at the process's end: a node
      // closed inside a longer-lived process leaves nothing pending.
      log.flush?.();
    },
  };
}

/**
 * Seeds the keys of a store that has none: the bootstrap keys when given,
 * else fresh development keys, shown once in the log (the only place they
 * ever appear; the store keeps their digests).
 */
async function seedKeys(
  store: Store,
  config: NodeConfig,
  options: {
    random: RandomSource;
    log: Logger;
    nowMs: number;
    generate: boolean;
  },
): Promise<void> {
  const given = config.bootstrap.adminKey !== undefined ||
    config.bootstrap.tenantKey !== undefined;
  if (!given && !options.generate) return;
  const result = await bootstrapKeys(store, {
    adminKey: config.bootstrap.adminKey,
    tenantKey: config.bootstrap.tenantKey,
    random: options.random,
    nowMs: options.nowMs,
  });
  if (!result.seeded) return;
  if (!result.generated) {
    options.log.log("info", "keys_bootstrapped", {});
    return;
  }
  options.log.log("warn", "development_keys", {
    message:
      "the store had no API keys; these were made for development and are shown only now",
    admin_key: result.adminKey,
    tenant: "default",
    tenant_key: result.tenantKey,
  });
}

/**
 * Free connections of the store: a store with a connection pool reports its
 * own (`poolAvailable()`); the embedded store has one connection, used
 * synchronously, so it is free whenever anyone looks.
 */
function dbPoolAvailable(store: Store): number {
  const pooled = store as Store & { poolAvailable?: () => number };
  return typeof pooled.poolAvailable === "function"
    ? pooled.poolAvailable()
    : 1;
}

/** Every tenant's spend on today's UTC day, from the ledger. */
async function tenantSpendToday(
  store: Store,
  nowMs: number,
): Promise<TenantSpend[]> {
  const day = utcDay(nowMs);
  const tenants = await store.listTenants();
  return await Promise.all(tenants.map(async ({ id }) => ({
    tenant: id,
    spentCents: (await store.budgetDay(id, day)).spent_cents,
  })));
}
