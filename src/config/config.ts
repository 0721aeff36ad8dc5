import { parseArgs } from "node:util";
import { z } from "zod";
import type { LogLevel } from "../deps/mod.ts";

/**
 * Size limits of one run's log. Past a soft limit the run records a
 * `LogSizeWarning` (and the metric `nova_run_log_warnings_total` counts it);
 * an append that would pass a hard limit is replaced by `LogSizeExceeded`
 * and the run fails with RUN_LOG_TOO_LARGE. Every `snapshotEveryRecords`
 * records the run's state is saved, so a restart folds only the records
 * after it.
 */
export interface RunLogLimits {
  softBytes: number;
  hardBytes: number;
  softRecords: number;
  hardRecords: number;
  snapshotEveryRecords: number;
}

/** Configuration of an `aos serve` process. */
export interface NodeConfig {
  /** TCP port of the API (0 picks a free one). */
  port: number;
  /** Address the API binds to; loopback unless told otherwise. */
  host: string;
  /** Folder of the embedded store. */
  dataDir: string;
  /**
   * The store: the embedded SQLite under `dataDir` (`sqlite`, the default),
   * or a shared PostgreSQL (`postgres://…`) several nodes may use at once.
   */
  store: string;
  /** How this node holds runs in a shared store. */
  ownership: {
    /** Unique among the live nodes of one store; `local` suits one SQLite node. */
    nodeId: string;
    leaseMs: number;
    pollMs: number;
    runsMax: number;
    /**
     * A run waiting on nothing but a timer at least this far off, or on a
     * message, is parked: no actor, lease or slot (default 1 s).
     */
    parkMinMs?: number | undefined;
  };
  logLevel: LogLevel;
  /** Skill folders registered at start besides the built-in `skills-wasm/`. */
  extraSkillDirs: string[];
  /** Worker threads per skill module. */
  poolSizeMax: number;
  /** Host-side ceilings on skill calls. */
  limits: {
    timeoutMsMax: number;
    memoryMbMax: number;
    outputBytesMax: number;
    moduleBytesMax: number;
  };
  /** Outbound HTTP of skills. */
  http: {
    /** Loopback `host:port` targets opened for tests and local development; none by default. */
    loopbackAllowlist: { host: string; port: number }[];
    /** A DNS server to resolve with instead of the system's (`ip:port`). */
    dnsServer?: { ipAddr: string; port: number } | undefined;
    bodyBytesMax: number;
    /** Whether skills may call public hosts (`AOS_HTTP_EXTERNAL=1`); off by default. */
    externalEnabled: boolean;
  };
  /** Secrets skills may reference as `{{secret:NAME}}`: `AOS_SECRET_<NAME>`. */
  secrets: Record<string, string>;
  /**
   * Databases `postgres_query` may use, by name: `AOS_DATASOURCE_<NAME>` is
   * the URL, `AOS_DATASOURCE_<NAME>_READONLY` an optional read-only one.
   * Only the host sees these URLs.
   */
  datasources: Record<
    string,
    { url: string; readOnlyUrl?: string | undefined }
  >;
  /** The admin key (`AOS_ADMIN_KEY`); admin routes are closed without one. */
  adminKey?: string | undefined;
  /** A tenant's daily budget when its record sets none (`AOS_TENANT_DAILY_BUDGET_CENTS`). */
  tenantDailyBudgetCents: number;
  /**
   * Keys seeded into a store that holds none (`AOS_BOOTSTRAP_ADMIN_KEY`,
   * `AOS_BOOTSTRAP_TENANT_KEY` for tenant `default`).
   */
  bootstrap: {
    adminKey?: string | undefined;
    tenantKey?: string | undefined;
  };
  /** Most runs active at once; more submissions get 429 (`--runs-active-max`, `AOS_RUNS_ACTIVE_MAX`). */
  runsActiveMax: number;
  /** How long a used `Idempotency-Key` is remembered (`AOS_IDEMPOTENCY_RETENTION_HOURS`). */
  idempotencyRetentionHours: number;
  /** Limits of each run's log (`AOS_RUN_LOG_*`). */
  runLog: RunLogLimits;
}

const configSchema = z.object({
  port: z.coerce.number().int().min(0).max(65_535),
  host: z.string().min(1),
  dataDir: z.string().min(1),
  store: z.string().refine(
    (value) => value === "sqlite" || /^postgres(ql)?:\/\//.test(value),
    "the store is sqlite or a postgres:// URL",
  ),
  ownership: z.object({
    nodeId: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/),
    leaseMs: z.coerce.number().int().min(100).max(3_600_000),
    pollMs: z.coerce.number().int().min(10).max(600_000),
    runsMax: z.coerce.number().int().min(1).max(100_000),
    parkMinMs: z.coerce.number().int().min(0).max(1e15).optional(),
  }),
  logLevel: z.enum(["debug", "info", "warn", "error"]),
  extraSkillDirs: z.array(z.string().min(1)),
  poolSizeMax: z.coerce.number().int().min(1).max(64),
  limits: z.object({
    timeoutMsMax: z.coerce.number().int().min(1).max(3_600_000),
    memoryMbMax: z.coerce.number().int().min(1).max(4096),
    outputBytesMax: z.coerce.number().int().min(1024).max(1 << 30),
    moduleBytesMax: z.coerce.number().int().min(1024).max(1 << 30),
  }),
  http: z.object({
    loopbackAllowlist: z.array(
      z.object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65_535),
      }),
    ),
    dnsServer: z.object({
      ipAddr: z.string().min(1),
      port: z.number().int().min(1).max(65_535),
    }).optional(),
    bodyBytesMax: z.coerce.number().int().min(1024).max(1 << 30),
    externalEnabled: z.boolean(),
  }),
  secrets: z.record(z.string().regex(/^[A-Za-z0-9_]{1,64}$/), z.string()),
  adminKey: z.string().min(16, "the admin key needs at least 16 characters")
    .optional(),
  tenantDailyBudgetCents: z.coerce.number().int().min(0).max(
    Number.MAX_SAFE_INTEGER,
  ),
  bootstrap: z.object({
    adminKey: z.string().min(16, "a bootstrap key needs at least 16 characters")
      .optional(),
    tenantKey: z.string().min(
      16,
      "a bootstrap key needs at least 16 characters",
    ).optional(),
  }),
  runsActiveMax: z.coerce.number().int().min(1).max(1_000_000),
  idempotencyRetentionHours: z.coerce.number().int().min(1).max(24 * 30),
  datasources: z.record(
    z.string().regex(/^[a-z0-9_]{1,64}$/),
    z.object({
      url: z.string().startsWith("postgres"),
      readOnlyUrl: z.string().startsWith("postgres").optional(),
    }),
  ),
  runLog: z.object({
    softBytes: z.coerce.number().int().min(1),
    hardBytes: z.coerce.number().int().min(1),
    softRecords: z.coerce.number().int().min(1),
    hardRecords: z.coerce.number().int().min(1),
    snapshotEveryRecords: z.coerce.number().int().min(1),
  }).refine(
    (limits) =>
      limits.softBytes <= limits.hardBytes &&
      limits.softRecords <= limits.hardRecords,
    "a soft limit may not be above its hard limit",
  ),
});

/** Defaults of every setting. */
export const DEFAULT_CONFIG: NodeConfig = {
  port: 8080,
  host: "127.0.0.1",
  dataDir: "./data",
  store: "sqlite",
  ownership: {
    nodeId: "local",
    leaseMs: 10_000,
    pollMs: 2_000,
    runsMax: 256,
  },
  logLevel: "info",
  extraSkillDirs: [],
  poolSizeMax: 2,
  limits: {
    timeoutMsMax: 60_000,
    memoryMbMax: 256,
    outputBytesMax: 4 * 1024 * 1024,
    moduleBytesMax: 16 * 1024 * 1024,
  },
  http: {
    loopbackAllowlist: [],
    bodyBytesMax: 10 * 1024 * 1024,
    externalEnabled: false,
  },
  secrets: {},
  datasources: {},
  tenantDailyBudgetCents: 10_000,
  bootstrap: {},
  runsActiveMax: 1000,
  idempotencyRetentionHours: 24,
  runLog: {
    softBytes: 16 * 1024 * 1024,
    hardBytes: 64 * 1024 * 1024,
    softRecords: 10_000,
    hardRecords: 100_000,
    snapshotEveryRecords: 1_000,
  },
};

/** `host:port` → its parts; undefined for anything else. */
function hostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  return match === null
    ? undefined
    : { host: match[1]!.replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

function hostPorts(
  text: string | undefined,
  what: string,
): { host: string; port: number }[] {
  if (text === undefined || text.trim() === "") return [];
  return text.split(",").map((part) => {
    const parsed = hostPort(part);
    if (parsed === undefined) {
      throw new Error(
        `invalid configuration: ${what}: "${part}" is not host:port`,
      );
    }
    return parsed;
  });
}

function datasourcesFrom(
  env: Record<string, string | undefined>,
): Record<string, { url: string; readOnlyUrl?: string }> {
  const datasources: Record<string, { url: string; readOnlyUrl?: string }> = {};
  for (const [name, value] of Object.entries(env)) {
    if (
      !name.startsWith("AOS_DATASOURCE_") || name.endsWith("_READONLY") ||
      value === undefined
    ) continue;
    const key = name.slice("AOS_DATASOURCE_".length).toLowerCase();
    const readOnly = env[`${name}_READONLY`];
    datasources[key] = readOnly === undefined
      ? { url: value }
      : { url: value, readOnlyUrl: readOnly };
  }
  return datasources;
}

function secretsFrom(
  env: Record<string, string | undefined>,
): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("AOS_SECRET_") && value !== undefined) {
      secrets[name.slice("AOS_SECRET_".length)] = value;
    }
  }
  return secrets;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function hostnameOf(env: Record<string, string | undefined>): string {
  const name = env.HOSTNAME ?? (() => {
    try {
      return Deno.hostname();
    } catch {
      return "node";
    }
  })();
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100) || "node";
}

/**
 * Reads the node's configuration: flags win over environment variables,
 * which win over defaults. `--port`/`AOS_PORT`, `--host`/`AOS_HOST`,
 * `--data`/`AOS_DATA_DIR`, `--log-level`/`AOS_LOG_LEVEL`,
 * `--skills-dir` (repeatable)/`AOS_SKILL_DIRS` (`:`-separated),
 * `--pool-size`/`AOS_POOL_SIZE`, `--store`/`DATABASE_URL` (`sqlite` or a
 * `postgres://` URL), `--node-id`/`AOS_NODE_ID` (default `local` on SQLite,
 * `<hostname>-<pid>` on PostgreSQL), `--lease-ms`/`AOS_LEASE_MS`,
 * `AOS_CLAIM_POLL_MS`, `AOS_RUNS_MAX`, `AOS_PARK_MIN_MS`. Throws a readable
 * error on a bad value.
 */
export function loadNodeConfig(
  args: string[],
  env: Record<string, string | undefined>,
): NodeConfig {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      "log-level": { type: "string" },
      "skills-dir": { type: "string", multiple: true },
      "pool-size": { type: "string" },
      "http-allow-loopback": { type: "string", multiple: true },
      store: { type: "string" },
      "node-id": { type: "string" },
      "lease-ms": { type: "string" },
      "runs-active-max": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const skillDirs = values["skills-dir"] ??
    (env.AOS_SKILL_DIRS
      ? env.AOS_SKILL_DIRS.split(":").filter((dir) => dir.length > 0)
      : undefined);
  const store = values.store ?? nonEmpty(env.DATABASE_URL) ??
    DEFAULT_CONFIG.store;
  const result = configSchema.safeParse({
    store,
    ownership: {
      nodeId: values["node-id"] ?? nonEmpty(env.AOS_NODE_ID) ??
        (store === "sqlite"
          ? DEFAULT_CONFIG.ownership.nodeId
          : `${hostnameOf(env)}-${Deno.pid}`),
      leaseMs: values["lease-ms"] ?? env.AOS_LEASE_MS ??
        DEFAULT_CONFIG.ownership.leaseMs,
      pollMs: env.AOS_CLAIM_POLL_MS ?? DEFAULT_CONFIG.ownership.pollMs,
      runsMax: env.AOS_RUNS_MAX ?? DEFAULT_CONFIG.ownership.runsMax,
      ...(nonEmpty(env.AOS_PARK_MIN_MS) === undefined
        ? {}
        : { parkMinMs: env.AOS_PARK_MIN_MS }),
    },
    port: values.port ?? env.AOS_PORT ?? DEFAULT_CONFIG.port,
    host: values.host ?? env.AOS_HOST ?? DEFAULT_CONFIG.host,
    dataDir: values.data ?? env.AOS_DATA_DIR ?? DEFAULT_CONFIG.dataDir,
    logLevel: values["log-level"] ?? env.AOS_LOG_LEVEL ??
      DEFAULT_CONFIG.logLevel,
    extraSkillDirs: skillDirs ?? DEFAULT_CONFIG.extraSkillDirs,
    poolSizeMax: values["pool-size"] ?? env.AOS_POOL_SIZE ??
      DEFAULT_CONFIG.poolSizeMax,
    limits: {
      timeoutMsMax: env.AOS_SKILL_TIMEOUT_MS_MAX ??
        DEFAULT_CONFIG.limits.timeoutMsMax,
      memoryMbMax: env.AOS_SKILL_MEMORY_MB_MAX ??
        DEFAULT_CONFIG.limits.memoryMbMax,
      outputBytesMax: env.AOS_SKILL_OUTPUT_BYTES_MAX ??
        DEFAULT_CONFIG.limits.outputBytesMax,
      moduleBytesMax: env.AOS_MODULE_BYTES_MAX ??
        DEFAULT_CONFIG.limits.moduleBytesMax,
    },
    http: {
      loopbackAllowlist: values["http-allow-loopback"] !== undefined
        ? hostPorts(
          values["http-allow-loopback"].join(","),
          "--http-allow-loopback",
        )
        : hostPorts(env.AOS_HTTP_ALLOW_LOOPBACK, "AOS_HTTP_ALLOW_LOOPBACK"),
      dnsServer: env.AOS_DNS_SERVER === undefined ? undefined : (() => {
        const parsed = hostPort(env.AOS_DNS_SERVER);
        if (parsed === undefined) {
          throw new Error(
            "invalid configuration: AOS_DNS_SERVER is not ip:port",
          );
        }
        return { ipAddr: parsed.host, port: parsed.port };
      })(),
      bodyBytesMax: env.AOS_HTTP_BODY_BYTES_MAX ??
        DEFAULT_CONFIG.http.bodyBytesMax,
      externalEnabled: env.AOS_HTTP_EXTERNAL === undefined
        ? DEFAULT_CONFIG.http.externalEnabled
        : ["1", "true", "yes"].includes(env.AOS_HTTP_EXTERNAL.toLowerCase()),
    },
    secrets: secretsFrom(env),
    adminKey: env.AOS_ADMIN_KEY,
    tenantDailyBudgetCents: env.AOS_TENANT_DAILY_BUDGET_CENTS ??
      DEFAULT_CONFIG.tenantDailyBudgetCents,
    bootstrap: {
      adminKey: env.AOS_BOOTSTRAP_ADMIN_KEY,
      tenantKey: env.AOS_BOOTSTRAP_TENANT_KEY,
    },
    runsActiveMax: values["runs-active-max"] ?? env.AOS_RUNS_ACTIVE_MAX ??
      DEFAULT_CONFIG.runsActiveMax,
    idempotencyRetentionHours: env.AOS_IDEMPOTENCY_RETENTION_HOURS ??
      DEFAULT_CONFIG.idempotencyRetentionHours,
    datasources: datasourcesFrom(env),
    runLog: {
      softBytes: env.AOS_RUN_LOG_SOFT_BYTES ?? DEFAULT_CONFIG.runLog.softBytes,
      hardBytes: env.AOS_RUN_LOG_HARD_BYTES ?? DEFAULT_CONFIG.runLog.hardBytes,
      softRecords: env.AOS_RUN_LOG_SOFT_RECORDS ??
        DEFAULT_CONFIG.runLog.softRecords,
      hardRecords: env.AOS_RUN_LOG_HARD_RECORDS ??
        DEFAULT_CONFIG.runLog.hardRecords,
      snapshotEveryRecords: env.AOS_RUN_SNAPSHOT_EVERY_RECORDS ??
        DEFAULT_CONFIG.runLog.snapshotEveryRecords,
    },
  });
  if (!result.success) {
    const problems = result.error.issues.map((issue) =>
      `${issue.path.join(".")}: ${issue.message}`
    );
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  return result.data;
}
