import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Runtime } from "../../actors/runtime.ts";
import { viewRun } from "../../actors/run_view.ts";
import { AosError } from "../errors/mod.ts";
import { jsonSchema, SIGNAL_NAME } from "../plan/mod.ts";
import type { Json, JsonObject, Store } from "../store/mod.ts";
import { parseHeader, parseJsonText, parseWith, readText } from "./errors.ts";
import { requestFingerprint } from "./idempotency.ts";
import { idempotencyKey } from "./run_schemas.ts";
import { sendOnce, signalRequestId } from "./signal_idempotency.ts";

/** What the run-control routes need. */
export interface RunControlDeps {
  runtime: Runtime;
  store: Store;
  /** The tenant a request acts for. */
  tenantOf: (c: Context) => string;
  nowMs: () => number;
  /** How long a signal's `Idempotency-Key` is remembered. */
  idempotencyRetentionMs: number;
}

/** Largest signal payload, and largest resume or fork body. */
export const CONTROL_BODY_BYTES_MAX = 256 * 1024;

const paramsSchema = z.record(z.string(), jsonSchema);

/** `POST /v1/runs/:id/resume`. */
export const resumeBody = z.object({
  /** The paused step `params` go to; by default the one the run paused at. */
  step: z.string().max(64).optional(),
  params: paramsSchema.optional(),
  budget_cents: z.number().int().min(0).max(100_000_000).optional(),
}).strict();

/** `POST /v1/runs/:id/fork`. */
export const forkBody = z.object({
  from_step: z.string().min(1).max(64),
  overrides: z.record(
    z.string(),
    z.object({
      params: paramsSchema.optional(),
      skill: z.string().min(1).max(130).optional(),
    }).strict(),
  ).optional(),
}).strict();

async function optionalJson(c: Context): Promise<unknown> {
  const text = await readText(c, CONTROL_BODY_BYTES_MAX);
  return text.trim() === "" ? undefined : parseJsonText(text);
}

/**
 * Signals, resume and fork: `POST /v1/runs/:id/signals/:name`,
 * `/v1/runs/:id/resume`, `/v1/runs/:id/fork`. A run of another tenant is
 * RUN_NOT_FOUND, as everywhere.
 */
export function addRunControlRoutes(app: Hono, deps: RunControlDeps): void {
  const { runtime, store } = deps;

  async function ownRun(c: Context): Promise<string> {
    const runId = c.req.param("id")!;
    const summary = await store.getRun(runId);
    if (summary === undefined || summary.tenant !== deps.tenantOf(c)) {
      throw new AosError("RUN_NOT_FOUND", `run ${runId} not found`, {
        details: { run_id: runId },
      });
    }
    return runId;
  }

  app.post("/v1/runs/:id/signals/:name", async (c) => {
    const runId = await ownRun(c);
    const name = c.req.param("name");
    if (!new RegExp(SIGNAL_NAME.source).test(name)) {
      throw new AosError(
        "VALIDATION_QUERY_INVALID",
        `"${name}" is not a signal name: letters, digits, _ and -, starting with a letter`,
        { details: { pointer: "/name", name } },
      );
    }
    const header = c.req.header("idempotency-key");
    const key = header === undefined
      ? undefined
      : parseHeader(idempotencyKey, header, "Idempotency-Key");
    const payload = (await optionalJson(c) ?? null) as Json;
    const send = async (request?: string) => {
      const sent = await runtime.signal(
        runId,
        name,
        payload,
        request === undefined ? {} : { request },
      );
      return {
        run_id: runId,
        signal: name,
        status: sent.status,
        queued: sent.queued,
      };
    };
    if (key === undefined) return c.json(await send(), 202);
    const tenant = deps.tenantOf(c);
    const answer = await sendOnce(store, {
      tenant,
      key,
      fingerprint: requestFingerprint({
        signal: name,
        run_id: runId,
        payload,
      }),
      nowMs: deps.nowMs(),
      retentionMs: deps.idempotencyRetentionMs,
      runId,
      send: () => send(signalRequestId(tenant, key)),
    });
    if (answer.replayed) c.header("Idempotent-Replayed", "true");
    return c.json(answer.response, 202);
  });

  app.post("/v1/runs/:id/resume", async (c) => {
    const runId = await ownRun(c);
    const body = parseWith(resumeBody, await optionalJson(c) ?? {}, "body");
    const { state, queued } = await runtime.resumeRun(runId, {
      ...(body.step === undefined ? {} : { step: body.step }),
      ...(body.params === undefined
        ? {}
        : { params: body.params as JsonObject }),
      ...(body.budget_cents === undefined
        ? {}
        : { budget_cents: body.budget_cents }),
    });
    const summary = await store.getRun(runId);
    return c.json({ ...viewRun(state, summary?.digest ?? ""), queued }, 202);
  });

  app.post("/v1/runs/:id/fork", async (c) => {
    const runId = await ownRun(c);
    const body = parseWith(forkBody, await optionalJson(c), "body");
    const fork = await runtime.fork(runId, {
      from_step: body.from_step,
      ...(body.overrides === undefined ? {} : {
        overrides: body.overrides as Record<
          string,
          { params?: JsonObject; skill?: string }
        >,
      }),
    }, { tenant: deps.tenantOf(c) });
    return c.json(
      {
        run_id: fork.run_id,
        status: "running",
        fork: {
          run_id: runId,
          from_step: body.from_step,
          from_seq: fork.from_seq,
        },
        links: { self: `/v1/runs/${fork.run_id}`, parent: `/v1/runs/${runId}` },
      },
      202,
      { Location: `/v1/runs/${fork.run_id}` },
    );
  });
}
