import { AosError, type RecordedError } from "../src/errors/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import type { Json, LogRecord, RunStatus } from "../src/store/mod.ts";

/**
 * Version of the host ABI a run was started under (host function names,
 * argument and answer formats). Replay refuses a log of an ABI it does not
 * implement instead of feeding a skill answers in the wrong shape.
 */
export const HOST_ABI_VERSION = 1;

/** The exact module a step runs: `name@version#sha256`, fixed at submission. */
export interface SkillPin {
  name: string;
  version: string;
  sha256: string;
  entrypoint: string;
  timeout_ms: number;
}

/** Kinds of recorded host calls. */
export type HostCallKind = "now" | "random" | "http" | "sql" | "calendar";

/** A host function's answer as recorded in the log. */
export interface HostCallBody {
  step: string;
  attempt: number;
  /** Position of this call within the attempt, from 0. */
  index: number;
  kind: HostCallKind;
  request: Json;
  /** sha256 of the canonical request; what replay compares. */
  request_sha256: string;
  result: Json;
}

/**
 * The messages of a run's mailbox, which are the records of its log. The
 * reducer is a fold over these; `at` (from the clock seam) is on the
 * envelope. New kinds (timers, budgets, signals, patch markers) are added
 * as new types; a reader that meets an unknown type refuses the log.
 */
export type RunMessage =
  | {
    type: "RunSubmitted";
    body: {
      tenant: string;
      plan: Plan;
      /** Every skill reference of the plan → the module it runs. */
      pins: Record<string, SkillPin>;
      abi: number;
    };
  }
  | {
    type: "StepStarted";
    body: { step: string; attempt: number; input: Json; skill: string };
  }
  | { type: "HostCall"; body: HostCallBody }
  | {
    type: "StepSucceeded";
    body: {
      step: string;
      attempt: number;
      output: Json;
      output_sha256: string;
    };
  }
  | {
    type: "StepFailed";
    body: { step: string; attempt: number; error: RecordedError };
  }
  | { type: "RunSucceeded"; body: { output: Json } }
  | { type: "RunFailed"; body: { step: string | null; error: RecordedError } };

/** A message with the time the shell stamped on it. */
export type TimedMessage = RunMessage & { at: number };

/** Names of all message types, to refuse unknown records early. */
export const RUN_MESSAGE_TYPES: readonly RunMessage["type"][] = [
  "RunSubmitted",
  "StepStarted",
  "HostCall",
  "StepSucceeded",
  "StepFailed",
  "RunSucceeded",
  "RunFailed",
];

/** Status a run is in once `type` is applied, when that type ends it. */
export function finalStatusOf(type: RunMessage["type"]): RunStatus | undefined {
  if (type === "RunSucceeded") return "succeeded";
  if (type === "RunFailed") return "failed";
  return undefined;
}

/** The canonical text form of a pin. */
export function pinLabel(pin: SkillPin): string {
  return `${pin.name}@${pin.version}#${pin.sha256}`;
}

/** A log record as a run message; refuses records of unknown types. */
export function messageOf(
  record: LogRecord,
): TimedMessage & { run_id: string } {
  if (!(RUN_MESSAGE_TYPES as readonly string[]).includes(record.type)) {
    throw new AosError(
      "LOG_RECORD_INVALID",
      `record ${record.seq} of run ${record.run_id} has unknown type ${record.type}`,
      {
        details: { run_id: record.run_id, seq: record.seq, type: record.type },
      },
    );
  }
  return {
    run_id: record.run_id,
    type: record.type,
    body: record.body,
    at: record.at,
  } as unknown as TimedMessage & { run_id: string };
}
