import { Hono } from "hono";
import type { Runtime } from "../../actors/runtime.ts";
import type { BudgetLedger } from "../budget/mod.ts";
import type { Logger } from "../deps/mod.ts";
import { AosError, catalogEntries } from "../errors/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { SkillRegistry } from "../skills/registry.ts";
import type { Store } from "../store/mod.ts";
import { errorResponse } from "./errors.ts";
import { IDEMPOTENCY_RETENTION_MS_DEFAULT } from "./idempotency.ts";
import { openApiDocument } from "./openapi.ts";
import { addRunRoutes } from "./runs_routes.ts";
import { authenticate, tenantOf } from "./auth.ts";
import { addReplayRoutes } from "./replay_routes.ts";
import { addSkillRoutes } from "./skills_routes.ts";
import { addTenantRoutes } from "./tenant_routes.ts";
import type { ApiKeyCache, TenantAdmin } from "../tenants/mod.ts";
import { calendarRoutes } from "./calendar_routes.ts";
import { addRunControlRoutes } from "./run_control_routes.ts";
import type { MockCalendarService } from "../sandbox/services/calendar.ts";

/** What the API serves. */
export interface ApiDeps {
  runtime: Runtime;
  registry: SkillRegistry;
  store: Store;
  metrics: Metrics;
  log: Logger;
  /** The mock calendar, whose events the API lists; absent when not offered. */
  calendar?: MockCalendarService;
  /** sha256 of the configured admin key (`AOS_ADMIN_KEY`), besides stored admin keys. */
  adminKeySha256: string | undefined;
  /** The store's API keys, cached by the node. */
  apiKeys: ApiKeyCache;
  tenants: TenantAdmin;
  budget: BudgetLedger;
  nowMs: () => number;
  /** Back-pressure and retention bounds; defaults when absent. */
  limits?: {
    /** Most runs active at once on this node; submissions past it get 429. */
    runsActiveMax: number;
    /** How long a used `Idempotency-Key` is remembered. */
    idempotencyRetentionMs: number;
  };
}

/** Default bound on the runs a node holds at once. */
export const RUNS_ACTIVE_MAX_DEFAULT = 1000;

// Routes under /v1 open to anyone: the failure catalog is documentation.
const PUBLIC_ROUTES = new Set(["/v1/errors"]);

// A store that does not answer a ping this fast is not ready to serve.
const READY_PING_MS = 2_000;

/** True when the store answers a ping within `limitMs`; false on error or silence. */
async function pingWithin(store: Store, limitMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), limitMs);
  });
  try {
    return await Promise.race([store.ping().catch(() => false), silence]);
  } finally {
    clearTimeout(timer);
  }
}

/** The HTTP API as a Hono app; `app.request()` drives it in tests. */
export function createApp(deps: ApiDeps): Hono {
  const { runtime, registry, store, metrics, log } = deps;
  const app = new Hono();

  app.use(async (c, next) => {
    const started = performance.now();
    metrics.eventLoop.workStarted();
    try {
      await next();
    } finally {
      metrics.eventLoop.workEnded();
    }
    const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    metrics.httpRequestsTotal.inc({ route, status: String(c.res.status) });
    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequestDurationSeconds.observe({ route }, seconds);
    if (log.enabled("debug")) {
      log.log("debug", "http_request", {
        method: c.req.method,
        route,
        status: c.res.status,
        duration_ms: Math.round(seconds * 1000),
      });
    }
  });

  app.onError((error, c) => {
    // Catalog errors are answers; anything else is a bug worth counting.
    if (!(error instanceof AosError)) metrics.unhandledExceptionsTotal.inc();
    return errorResponse(error, c, log);
  });
  app.notFound((c) =>
    errorResponse(
      new AosError(
        "ROUTE_NOT_FOUND",
        `no route for ${c.req.method} ${c.req.path}`,
      ),
      c,
      log,
    )
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const storeOk = await pingWithin(store, READY_PING_MS);
    const skills = registry.list().length;
    const ready = storeOk && skills > 0;
    return c.json({
      status: ready ? "ready" : "not_ready",
      store: storeOk,
      skills,
    }, ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    const { contentType, text } = await metrics.exposition();
    return c.body(text, 200, { "Content-Type": contentType });
  });

  // Every /v1 route but the public ones needs a key, checked before any
  // body is read; routes then ask for a tenant (tenantOf) or an admin.
  app.use("/v1/*", async (c, next) => {
    if (!PUBLIC_ROUTES.has(c.req.path)) {
      await authenticate(c, {
        keys: deps.apiKeys,
        adminKeySha256: deps.adminKeySha256,
      });
    }
    await next();
  });

  app.get("/v1/errors", (c) => c.json({ errors: catalogEntries() }));
  app.get("/openapi.json", (c) => c.json(openApiDocument()));

  if (deps.calendar !== undefined) calendarRoutes(app, deps.calendar);
  addSkillRoutes(app, { registry, nowMs: deps.nowMs });
  addTenantRoutes(app, { tenants: deps.tenants, budget: deps.budget });
  addReplayRoutes(app, {
    store,
    registry,
    metrics,
    tenantOf,
  });

  addRunRoutes(app, {
    runtime,
    store,
    nowMs: deps.nowMs,
    runsActiveMax: deps.limits?.runsActiveMax ?? RUNS_ACTIVE_MAX_DEFAULT,
    idempotencyRetentionMs: deps.limits?.idempotencyRetentionMs ??
      IDEMPOTENCY_RETENTION_MS_DEFAULT,
  });
  addRunControlRoutes(app, {
    runtime,
    store,
    tenantOf,
    nowMs: deps.nowMs,
    idempotencyRetentionMs: deps.limits?.idempotencyRetentionMs ??
      IDEMPOTENCY_RETENTION_MS_DEFAULT,
  });

  return app;
}
