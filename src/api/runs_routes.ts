import type { Context, Hono } from "hono";
import type { Runtime } from "../../actors/runtime.ts";
import type { RunView } from "../../actors/run_view.ts";
import { formatTraceparent, parseTraceparent } from "../deps/mod.ts";
import { AosError } from "../errors/mod.ts";
import { planSchema } from "../plan/mod.ts";
import { goalSchema } from "../planner/mod.ts";
import {
  isTerminal,
  type JsonObject,
  type RunStatus,
  type Store,
} from "../store/mod.ts";
import { Admission } from "./admission.ts";
import {
  parseHeader,
  parseJsonText,
  parseWith,
  readJsonOrYaml,
  readText,
} from "./errors.ts";
import { onceForKey, requestFingerprint } from "./idempotency.ts";
import { streamRunEvents } from "./run_event_stream.ts";
import {
  cancelBody,
  eventsQuery,
  idempotencyKey,
  lastEventId,
  runListQuery,
  runViewQuery,
  submitQuery,
} from "./run_schemas.ts";
import { tenantOf } from "./auth.ts";

/** What the run routes need. */
export interface RunRoutesDeps {
  runtime: Runtime;
  store: Store;
  nowMs: () => number;
  /** Most unfinished runs when a new one is accepted (back-pressure). */
  runsActiveMax: number;
  /** How long an `Idempotency-Key` is remembered. */
  idempotencyRetentionMs: number;
  /** How often a followed event stream re-reads the store when idle. */
  eventsPollMs?: number;
}

/**
 * `/v1/runs`: submit (with `Idempotency-Key` and back-pressure), list,
 * view, cancel, and the log (`?follow=1` streams it). Every route acts for
 * the request's tenant; another tenant's run is RUN_NOT_FOUND.
 */
export function addRunRoutes(app: Hono, deps: RunRoutesDeps): void {
  const { runtime, store } = deps;
  const admission = new Admission({ runsActiveMax: deps.runsActiveMax });

  app.post("/v1/runs", async (c) => {
    const tenant = tenantOf(c);
    const { wait_ms: waitMs } = parseWith(submitQuery, c.req.query(), "query");
    const answer = (body: JsonObject) =>
      waitMs === undefined
        ? accepted(c, body)
        : acceptedOrEnded(c, runtime, body, waitMs);
    const header = c.req.header("idempotency-key");
    const key = header === undefined
      ? undefined
      : parseHeader(idempotencyKey, header, "Idempotency-Key");
    const body = await readJsonOrYaml(c);
    // A body with "goal" asks a planner for the plan; otherwise it is the plan.
    const isGoal = typeof body === "object" && body !== null &&
      !Array.isArray(body) && "goal" in body;
    const request = isGoal
      ? parseWith(goalSchema, body, "body")
      : parseWith(planSchema, body, "body");
    const trace = parseTraceparent(c.req.header("traceparent"));
    const traceparent = trace === undefined
      ? undefined
      : formatTraceparent(trace);
    if (key === undefined) {
      const { run_id } = await admission.admit((unfinishedMax) =>
        runtime.submit(request, { tenant, traceparent, unfinishedMax })
      );
      return await answer(acceptedBody(run_id));
    }
    const fingerprint = requestFingerprint(request);
    // The key is completed in the transaction that creates the run; a
    // refused submission frees it. Once accepted, whatever happens while
    // waiting, the key stays taken.
    const { response, replayed } = await onceForKey(store, {
      tenant,
      key,
      fingerprint,
      nowMs: deps.nowMs(),
      retentionMs: deps.idempotencyRetentionMs,
    }, async () => {
      const { run_id } = await admission.admit((unfinishedMax) =>
        runtime.submit(request, {
          tenant,
          traceparent,
          unfinishedMax,
          idempotency: { key, fingerprint, response: acceptedBody },
        })
      );
      return acceptedBody(run_id);
    });
    if (replayed) c.header("Idempotent-Replayed", "true");
    return await answer(response);
  });

  app.get("/v1/runs", async (c) => {
    const query = parseWith(runListQuery, c.req.query(), "query");
    const page = await store.listRuns({
      tenant: tenantOf(c),
      limit: query.limit,
      ...(query.status === undefined
        ? {}
        : { status: query.status as RunStatus }),
      ...(query.skill === undefined ? {} : { skill: query.skill }),
      ...(query.created_from === undefined
        ? {}
        : { createdFromMs: query.created_from }),
      ...(query.created_before === undefined
        ? {}
        : { createdBeforeMs: query.created_before }),
      ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
    });
    // Runs' digests name records that may be committed but not yet on disk.
    await store.syncBarrier();
    return c.json(page);
  });

  app.get("/v1/runs/:id", async (c) => {
    const query = parseWith(runViewQuery, c.req.query(), "query");
    const runId = c.req.param("id");
    // A client waiting on a run this node holds or just ended is answered
    // without reading its index row. A plain read asks the store, so it
    // says so (503) when the store is away, whatever this node remembers.
    const known = query.wait_ms === undefined
      ? undefined
      : runtime.known(runId);
    if (known === undefined) await ownRun(c, store, runId);
    else if (known.tenant !== tenantOf(c)) throw runNotFound(runId);
    if (query.wait_ms !== undefined) {
      await runtime.waitForEnd(runId, query.wait_ms);
    }
    const view = await runtime.view(runId);
    if (view === undefined) throw runNotFound(runId);
    return c.json(view);
  });

  app.post("/v1/runs/:id/cancel", async (c) => {
    const runId = c.req.param("id");
    await ownRun(c, store, runId);
    const text = await readText(c, 64 * 1024);
    const body = text.trim() === ""
      ? {}
      : parseWith(cancelBody, parseJsonText(text), "body");
    await runtime.cancel(runId, body.reason ?? "cancelled by request");
    await runtime.waitForEnd(runId, 10_000);
    const view = await runtime.view(runId);
    return c.json(view, 202);
  });

  app.get("/v1/runs/:id/events", async (c) => {
    const query = parseWith(eventsQuery, c.req.query(), "query");
    const runId = c.req.param("id");
    const summary = await ownRun(c, store, runId);
    const follow = query.follow === "1" || query.follow === "true" ||
      (query.follow === undefined &&
        /\btext\/event-stream\b/.test(c.req.header("accept") ?? ""));
    if (follow) {
      const resumeFrom = c.req.header("last-event-id");
      const fromSeq = resumeFrom === undefined
        ? query.from_seq
        : parseHeader(lastEventId, resumeFrom, "Last-Event-ID") + 1;
      return streamRunEvents(c, { store, runtime }, {
        runId,
        fromSeq,
        ...(deps.eventsPollMs === undefined
          ? {}
          : { pollMs: deps.eventsPollMs }),
      });
    }
    const events = await store.readLog(runId, { fromSeq: query.from_seq });
    // A client never learns of a record that is not on disk.
    await store.syncBarrier();
    return c.json({
      run_id: runId,
      // The digest of what this answer holds, even if the run moved on since.
      digest: events[events.length - 1]?.hash ?? summary.digest,
      events,
    });
  });
}

function acceptedBody(runId: string): JsonObject {
  return {
    run_id: runId,
    status: "running",
    links: { self: `/v1/runs/${runId}` },
  };
}

function accepted(c: Context, body: JsonObject): Response {
  return c.json(body, 202, { Location: `/v1/runs/${String(body.run_id)}` });
}

/**
 * A submission that asked to wait (`?wait_ms`): the run's view (200) once it
 * ended or paused within `waitMs`, else the same 202 as without waiting. The
 * run is durable before the wait starts, so a client that gives up or loses
 * the connection while waiting loses nothing: the run goes on, and its
 * Location (or the same Idempotency-Key) finds it. For the same reason a
 * wait or a read that fails (the store away, say) answers that 202, not an
 * error, which would invite the client to submit the run a second time.
 */
async function acceptedOrEnded(
  c: Context,
  runtime: Runtime,
  body: JsonObject,
  waitMs: number,
): Promise<Response> {
  const runId = String(body.run_id);
  let view: RunView | undefined;
  try {
    await runtime.waitForEnd(runId, waitMs);
    view = await runtime.view(runId);
  } catch {
    return accepted(c, body);
  }
  if (
    view === undefined ||
    !(isTerminal(view.status) || view.status === "paused")
  ) return accepted(c, body);
  return c.json(view, 200, { Location: `/v1/runs/${runId}` });
}

/** The run's index row when it belongs to the request's tenant; RUN_NOT_FOUND otherwise. */
async function ownRun(c: Context, store: Store, runId: string) {
  const summary = await store.getRun(runId);
  if (summary === undefined || summary.tenant !== tenantOf(c)) {
    throw runNotFound(runId);
  }
  return summary;
}

function runNotFound(runId: string): AosError {
  return new AosError("RUN_NOT_FOUND", `run ${runId} not found`, {
    details: { run_id: runId },
  });
}
