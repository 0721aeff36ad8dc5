import { AosError, type RecordedError } from "../src/errors/mod.ts";
import type { Plan, RetryPolicy } from "../src/plan/mod.ts";
import type { Goal } from "../src/planner/mod.ts";
import type {
  Json,
  JsonObject,
  LogRecord,
  RunStatus,
} from "../src/store/mod.ts";

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
  /** What a step of this skill is expected to cost; reserved against a run's budget. */
  cost_estimate_cents?: number;
  /**
   * The manifest's retry policy: a step of this skill without a policy of
   * its own (or a plan default) retries by it. Pinned with the module, so a
   * later install cannot change how a running or replayed run retries.
   */
  retry?: RetryPolicy;
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

/** The attempt a budget record is about. */
export interface BudgetAttempt {
  step: string;
  attempt: number;
}

/** A reservation of a step attempt's estimated cost against the tenant's UTC day. */
export interface BudgetReservedBody extends BudgetAttempt {
  cents: number;
  /** The UTC day, `YYYY-MM-DD`, the reservation counts against. */
  day: string;
}

/** A refused reservation, with the use it was refused against. */
export interface BudgetRefusedBody extends BudgetAttempt {
  cents: number;
  scope: "run" | "tenant_day";
  /** The UTC day of a `tenant_day` refusal. */
  day?: string;
  limit_cents: number;
  spent_cents: number;
  reserved_cents: number;
}

/**
 * Where a forked run came from: its parent, the step it was forked at, and
 * the parent's records it copied (`from_seq` records, the last one's hash
 * `digest`).
 */
export interface ForkOrigin {
  run_id: string;
  from_step: string;
  from_seq: number;
  digest: string;
}

/** Why a step did not run. */
export type SkipReason = "condition_false" | "dependency_failed";

/**
 * The messages of a run's mailbox, which are the records of its log. The
 * reducer is a fold over these; `at` (from the clock seam) is on the
 * envelope. New kinds are added as new types; a reader that meets an unknown
 * type refuses the log.
 */
export type RunMessage =
  | {
    type: "RunSubmitted";
    body: {
      tenant: string;
      /** The plan; null when a planner makes it from `goal` (see PlanProduced). */
      plan: Plan | null;
      goal?: Goal;
      /** Every skill reference of the plan (fallbacks included) → the module it runs. */
      pins: Record<string, SkillPin>;
      abi: number;
      /**
       * The version of the run's budget ledger (Budget* records). 1: every
       * step attempt reserves its estimate, zero cents included. 2: only an
       * attempt with an estimate reserves; one without is charged what its
       * output reports, when it reports a cost (an unreserved BudgetCharged).
       * Absent in logs from before the ledger, which replay without one.
       */
      ledger?: 1 | 2;
      /** Present on a forked run only, so earlier logs replay unchanged. */
      fork?: ForkOrigin;
      /** The submitter's W3C trace context; absent when none was sent. */
      traceparent?: string;
    };
  }
  | {
    type: "StepStarted";
    body: {
      step: string;
      attempt: number;
      input: Json;
      /** The pinned module, `name@version#sha256`. */
      skill: string;
      /** True when this attempt runs the step's fallback skill. */
      fallback?: boolean;
    };
  }
  | { type: "HostCall"; body: HostCallBody }
  /** The planner's plan for a goal run, with its pins; replay never plans again. */
  | {
    type: "PlanProduced";
    body: { plan: Plan; pins: Record<string, SkillPin>; planner: string };
  }
  | { type: "PlanFailed"; body: { error: RecordedError } }
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
  | { type: "StepSkipped"; body: { step: string; reason: SkipReason } }
  /** A failed attempt will be retried at `due_at` (a durable timer). */
  | {
    type: "RetryScheduled";
    body: { step: string; attempt: number; timer_id: string; due_at: number };
  }
  /** A `sleep_ms` step waits until `due_at` (a durable timer). */
  | {
    type: "TimerScheduled";
    body: { step: string; timer_id: string; due_at: number };
  }
  | { type: "TimerFired"; body: { timer_id: string } }
  | { type: "CancelRequested"; body: { reason: string } }
  /** The tenant's day granted `cents` for this attempt (the store's answer to a ReserveBudget effect). */
  | { type: "BudgetReserved"; body: BudgetReservedBody }
  /**
   * An attempt's estimate does not fit: the run's own budget (`scope: run`,
   * a decision of the run) or the tenant's day (`scope: tenant_day`, the
   * store's answer). The run stops with BUDGET_EXCEEDED.
   */
  | { type: "BudgetRefused"; body: BudgetRefusedBody }
  /**
   * A succeeded attempt's actual cost (`cost_cents` of its output). `day`
   * only on an attempt that reserved nothing (ledger 2, no estimate): the
   * UTC day the charge is booked on, that of the attempt's end.
   */
  | {
    type: "BudgetCharged";
    body: BudgetAttempt & { cents: number; day?: string };
  }
  /** The uncharged rest of a reservation goes back; it closes the reservation. */
  | { type: "BudgetReleased"; body: BudgetAttempt & { cents: number } }
  /**
   * A signal sent to the run; kept in order until a `wait_signal` step
   * takes it. `request`: the id of the store's signal request it came
   * from (sent through a node that did not hold the run), recorded once.
   */
  | {
    type: "SignalReceived";
    body: { name: string; payload: Json; request?: string };
  }
  /** A `wait_signal` step waits; with a timeout, `due_at` is its durable timer. */
  | {
    type: "SignalAwaited";
    body: { step: string; name: string; timer_id?: string; due_at?: number };
  }
  /** A `wait_signal` step takes the signal recorded at `signal_seq`. */
  | { type: "SignalDelivered"; body: { step: string; signal_seq: number } }
  /** The run stops deciding until resumed; `error` says why. */
  | {
    type: "RunPaused";
    body: { step: string | null; error: RecordedError };
  }
  /**
   * A paused run continues; `params` replace the paused step's,
   * `budget_cents` the plan's. `request`: the id of the store's resume
   * request it came from (sent through a node that did not hold the run).
   */
  | {
    type: "RunResumed";
    body: {
      step?: string;
      params?: JsonObject;
      budget_cents?: number;
      request?: string;
    };
  }
  /** The run's log passed its soft size limit. */
  | { type: "LogSizeWarning"; body: LogSize }
  /** The run's log would pass its hard size limit: the run fails. */
  | { type: "LogSizeExceeded"; body: LogSize }
  /** `status` is present only for a partial success, so logs from before partial runs replay unchanged. */
  | { type: "RunSucceeded"; body: { output: Json; status?: "partial" } }
  | { type: "RunFailed"; body: { step: string | null; error: RecordedError } }
  | { type: "RunCancelled"; body: { reason: string } };

/** How large a run's log is, and the limit it passed. */
export interface LogSize {
  records: number;
  bytes: number;
  records_max: number;
  bytes_max: number;
}

/** A message with the time the shell stamped on it. */
export type TimedMessage = RunMessage & { at: number };

/** Names of all message types, to refuse unknown records early. */
export const RUN_MESSAGE_TYPES: readonly RunMessage["type"][] = [
  "RunSubmitted",
  "StepStarted",
  "HostCall",
  "PlanProduced",
  "PlanFailed",
  "StepSucceeded",
  "StepFailed",
  "StepSkipped",
  "RetryScheduled",
  "TimerScheduled",
  "TimerFired",
  "CancelRequested",
  "BudgetReserved",
  "BudgetRefused",
  "BudgetCharged",
  "BudgetReleased",
  "SignalReceived",
  "SignalAwaited",
  "SignalDelivered",
  "RunPaused",
  "RunResumed",
  "LogSizeWarning",
  "LogSizeExceeded",
  "RunSucceeded",
  "RunFailed",
  "RunCancelled",
];

/** The status a run ends in when `message` is applied; undefined for others. */
export function finalStatusOf(message: RunMessage): RunStatus | undefined {
  if (message.type === "RunSucceeded") {
    return message.body.status ?? "succeeded";
  }
  if (message.type === "RunFailed") return "failed";
  if (message.type === "RunCancelled") return "cancelled";
  return undefined;
}

/** The canonical text form of a pin. */
export function pinLabel(pin: SkillPin): string {
  return `${pin.name}@${pin.version}#${pin.sha256}`;
}

// Asked of every record sealed, observed and folded.
const KNOWN_TYPES: ReadonlySet<string> = new Set(RUN_MESSAGE_TYPES);

/** A log record as a run message; refuses records of unknown types. */
export function messageOf(
  record: LogRecord,
): TimedMessage & { run_id: string } {
  if (!KNOWN_TYPES.has(record.type)) {
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
