/**
 * Shapes of the answers of the skill, tenant, control and replay routes, for
 * `/openapi.json`. The run routes' answers are in `run_schemas.ts`; these
 * are documentation only (the server builds the answers), kept beside the
 * document so a new field is added in one obvious place.
 *
 * @module
 */
import { z } from "zod";
import { catalogEntrySchema } from "../errors/mod.ts";
import { runView } from "./run_schemas.ts";

/** A skill version as listed. */
export const skillSummary = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  owner: z.string(),
  installed_at: z.string().meta({ description: "ISO 8601" }),
});

/** `200`/`201` of `POST /v1/skills`. */
export const skillInstalled = skillSummary.extend({
  created: z.boolean().meta({
    description: "false when these exact bytes were installed already",
  }),
});

/** `200` of `GET /v1/skills/:name/:version`. */
export const skillDetail = skillSummary.extend({
  manifest: z.record(z.string(), z.unknown()),
});

/** A tenant as stored. */
export const tenantRecord = z.object({
  id: z.string(),
  created_at: z.number().int(),
  daily_budget_cents: z.number().int().nullable(),
});

/** `201` of `POST /v1/tenants`: the tenant, and its first key shown once. */
export const tenantCreated = z.object({
  tenant: tenantRecord,
  key: z.string(),
  key_id: z.string(),
});

/** An API key as listed: never the key itself. */
export const keyView = z.object({
  key_id: z.string(),
  role: z.enum(["admin", "tenant"]),
  tenant: z.string().nullable(),
  created_at: z.number().int(),
  revoked_at: z.number().int().nullable(),
});

/** A key just issued: shown in this answer and nowhere else. */
export const keyIssued = z.object({
  tenant: z.string(),
  key: z.string(),
  key_id: z.string(),
});

/** `200` of `GET /v1/tenants/me/budget`. */
export const tenantDayBudget = z.object({
  tenant: z.string(),
  day: z.string().meta({ description: "UTC day, YYYY-MM-DD" }),
  limit_cents: z.number().int(),
  spent_cents: z.number().int(),
  reserved_cents: z.number().int(),
  remaining_cents: z.number().int(),
});

/** `202` of `POST /v1/runs/:id/signals/:name`. */
export const signalAccepted = z.object({
  run_id: z.string(),
  signal: z.string(),
  status: z.string(),
  /**
   * True when another node runs the run and had not recorded the signal
   * within 30 s: it waits in the store, and the run records it before it
   * ends (unless it can no longer take it; docs/plans.md, "Signals").
   */
  queued: z.boolean(),
});

/** `202` of `POST /v1/runs/:id/resume`: the run, and whether its resume waits. */
export const resumeAccepted = runView.extend({
  /**
   * True when another node runs the run (a step still in flight) and had
   * not recorded the resume within 30 s: it waits in the store for the
   * node holding the run, and the run shown is still paused.
   */
  queued: z.boolean(),
});

/** `202` of `POST /v1/runs/:id/fork`. */
export const forkAccepted = z.object({
  run_id: z.string(),
  status: z.literal("running"),
  fork: z.object({
    run_id: z.string().meta({ description: "the parent run" }),
    from_step: z.string(),
    from_seq: z.number().int(),
  }),
  links: z.object({ self: z.string(), parent: z.string() }),
});

/** `200` of `POST /v1/runs/:id/replay` (see docs/replay.md). */
export const replayAnswer = z.object({
  run_status: z.string(),
  verdict: z.string().meta({
    description: "identical, or diverged with a divergence report",
  }),
}).loose();

/** `200` of `GET /healthz`: the process is up. */
export const health = z.object({ status: z.literal("ok") });

/** `200` (ready) or `503` (not) of `GET /readyz`. */
export const readiness = z.object({
  status: z.enum(["ready", "not_ready"]),
  store: z.boolean().meta({ description: "the store answered a ping in time" }),
  skills: z.number().int().meta({ description: "skill versions installed" }),
});

/** `200` of `GET /v1/errors`: every code of the failure catalog. */
export const errorCatalog = z.object({ errors: z.array(catalogEntrySchema) });
