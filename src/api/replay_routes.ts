import type { Context, Hono } from "hono";
import { z } from "zod";
import type { SkillPin } from "../../actors/run_messages.ts";
import { AosError } from "../errors/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import {
  candidatePin,
  countReplay,
  dryRunLog,
  registryModules,
  replayLog,
  replaySandbox,
} from "../replay/mod.ts";
import type { SkillRegistry } from "../skills/registry.ts";
import { sha256Hex, type Store } from "../store/mod.ts";
import { parseJsonText, parseWith, readText } from "./errors.ts";

/** What the replay route needs. */
export interface ReplayRouteDeps {
  store: Store;
  registry: SkillRegistry;
  metrics: Metrics;
  /** The tenant a request acts for; a tenant replays only its own runs. */
  tenantOf: (c: Context) => string;
}

/** `POST /v1/runs/:id/replay`. */
export const replayBody = z.object({
  /** Upgrade dry-run: replay against this installed version instead. */
  skill: z.string().regex(/^[a-z][a-z0-9_-]*@[0-9A-Za-z.+-]+$/).optional(),
}).strict();

/**
 * `POST /v1/runs/:id/replay`: re-executes a run of this node's store in a
 * sandbox that can reach nothing live and answers with the report (or, with
 * `skill`, the dry-run verdict). The run's log is only read, never
 * appended to; replays go one at a time so they cannot crowd out live runs.
 */
export function addReplayRoutes(app: Hono, deps: ReplayRouteDeps): void {
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  app.post("/v1/runs/:id/replay", async (c) => {
    const runId = c.req.param("id");
    const summary = await deps.store.getRun(runId);
    if (summary === undefined || summary.tenant !== deps.tenantOf(c)) {
      throw new AosError("RUN_NOT_FOUND", `run ${runId} not found`, {
        details: { run_id: runId },
      });
    }
    const text = await readText(c, 64 * 1024);
    const body = text.trim() === ""
      ? {}
      : parseWith(replayBody, parseJsonText(text), "body");
    const modules = registryModules(deps.registry);
    let candidate: SkillPin | undefined;
    if (body.skill !== undefined) {
      const [name, version] = body.skill.split("@") as [string, string];
      const module = await modules.find(name, version);
      if (module === undefined) {
        throw new AosError(
          "SKILL_NOT_FOUND",
          `skill ${body.skill} is not installed`,
          { details: { skill: body.skill } },
        );
      }
      candidate = candidatePin(module, sha256Hex(module.bytes));
    }
    const report = await oneAtATime(async () => {
      const records = await deps.store.readLog(runId);
      // The report names records: only ones on disk.
      await deps.store.syncBarrier();
      const sandbox = replaySandbox(modules);
      try {
        return candidate === undefined
          ? await replayLog(records, sandbox, { catalog: modules })
          : await dryRunLog(records, sandbox, { candidate });
      } finally {
        await sandbox.close();
      }
    });
    countReplay(deps.metrics, report);
    return c.json({ run_status: summary.status, ...report });
  });
}
