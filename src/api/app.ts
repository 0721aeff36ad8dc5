import { Hono } from "hono";
import { z } from "zod";
import type { Runtime } from "../../actors/runtime.ts";
import {
  formatTraceparent,
  type Logger,
  parseTraceparent,
} from "../deps/mod.ts";
import { AosError, catalogEntries } from "../errors/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import { planSchema } from "../plan/mod.ts";
import { goalSchema } from "../planner/mod.ts";
import type { SkillRegistry } from "../skills/registry.ts";
import type { Store } from "../store/mod.ts";
import {
  errorResponse,
  parseJsonText,
  parseWith,
  readJsonOrYaml,
  readText,
} from "./errors.ts";
import { addReplayRoutes } from "./replay_routes.ts";
import { addSkillRoutes } from "./skills_routes.ts";
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
  /** sha256 of the admin key; admin routes are closed when undefined. */
  adminKeySha256: string | undefined;
  nowMs: () => number;
}

const listQuery = z.object({
  status: z.enum([
    "running",
    "paused",
    "succeeded",
    "partial",
    "failed",
    "cancelled",
  ]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(200).optional(),
}).strict();

const viewQuery = z.object({
  /** Long-poll: wait up to this long for the run to finish before answering. */
  wait_ms: z.coerce.number().int().min(0).max(60_000).optional(),
}).strict();

const cancelBody = z.object({ reason: z.string().max(500).optional() })
  .strict();

const eventsQuery = z.object({
  from_seq: z.coerce.number().int().min(0).default(0),
}).strict();

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

// Until tenants and API keys exist every request acts for this tenant.
const DEFAULT_TENANT = "default";

/** The HTTP API as a Hono app; `app.request()` drives it in tests. */
export function createApp(deps: ApiDeps): Hono {
  const { runtime, registry, store, metrics, log } = deps;
  const app = new Hono();

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
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

  app.get("/v1/errors", (c) => c.json({ errors: catalogEntries() }));

  if (deps.calendar !== undefined) calendarRoutes(app, deps.calendar);
  addSkillRoutes(app, {
    registry,
    adminKeySha256: deps.adminKeySha256,
    nowMs: deps.nowMs,
  });
  addReplayRoutes(app, {
    store,
    registry,
    metrics,
    tenantOf: () => DEFAULT_TENANT,
  });

  app.post("/v1/runs", async (c) => {
    const body = await readJsonOrYaml(c);
    // A body with "goal" asks a planner for the plan; otherwise it is the plan.
    const isGoal = typeof body === "object" && body !== null &&
      !Array.isArray(body) && "goal" in body;
    const request = isGoal
      ? parseWith(goalSchema, body, "body")
      : parseWith(planSchema, body, "body");
    const trace = parseTraceparent(c.req.header("traceparent"));
    const { run_id } = await runtime.submit(request, {
      tenant: DEFAULT_TENANT,
      traceparent: trace === undefined ? undefined : formatTraceparent(trace),
    });
    return c.json(
      { run_id, status: "running", links: { self: `/v1/runs/${run_id}` } },
      202,
      {
        Location: `/v1/runs/${run_id}`,
      },
    );
  });

  app.get("/v1/runs", async (c) => {
    const query = parseWith(listQuery, c.req.query(), "query");
    const page = await store.listRuns({
      tenant: DEFAULT_TENANT,
      limit: query.limit,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    return c.json(page);
  });

  app.get("/v1/runs/:id", async (c) => {
    const query = parseWith(viewQuery, c.req.query(), "query");
    const runId = c.req.param("id");
    if (query.wait_ms !== undefined) {
      await runtime.waitForEnd(runId, query.wait_ms);
    }
    const view = await runtime.view(runId);
    if (view === undefined || view.tenant !== DEFAULT_TENANT) {
      throw runNotFound(runId);
    }
    return c.json(view);
  });

  app.post("/v1/runs/:id/cancel", async (c) => {
    const runId = c.req.param("id");
    const summary = await store.getRun(runId);
    if (summary === undefined || summary.tenant !== DEFAULT_TENANT) {
      throw runNotFound(runId);
    }
    const text = await readText(c, 64 * 1024);
    const body = text.trim() === ""
      ? {}
      : parseWith(cancelBody, parseJsonText(text), "body");
    await runtime.cancel(runId, body.reason ?? "cancelled by request");
    await runtime.waitForEnd(runId, 10_000);
    const view = await runtime.view(runId);
    return c.json(view, 202);
  });

  addRunControlRoutes(app, {
    runtime,
    store,
    tenantOf: () => DEFAULT_TENANT,
  });

  app.get("/v1/runs/:id/events", async (c) => {
    const query = parseWith(eventsQuery, c.req.query(), "query");
    const runId = c.req.param("id");
    const summary = await store.getRun(runId);
    if (summary === undefined || summary.tenant !== DEFAULT_TENANT) {
      throw runNotFound(runId);
    }
    const events = await store.readLog(runId, { fromSeq: query.from_seq });
    return c.json({ run_id: runId, digest: summary.digest, events });
  });

  return app;
}

function runNotFound(runId: string): AosError {
  return new AosError("RUN_NOT_FOUND", `run ${runId} not found`, {
    details: { run_id: runId },
  });
}
