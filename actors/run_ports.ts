/**
 * What a run actor needs from outside it, as interfaces the shell
 * implements: the step executor (the sandbox), the goal planner, the budget
 * ledger's side of reservations, the host-call port of a step, and the
 * actor's dependencies as a whole.
 *
 * @module
 */
import type {
  AttemptCharge,
  AttemptReservation,
  AttemptSettlement,
} from "../src/budget/mod.ts";
import type { RecordedError } from "../src/errors/mod.ts";
import type { Plan } from "../src/plan/mod.ts";
import type { Goal } from "../src/planner/mod.ts";
import type { Clock, Logger } from "../src/deps/mod.ts";
import type { RunLogLimits } from "../src/config/mod.ts";
import type {
  BudgetCharge,
  BudgetReservationRequest,
  BudgetSettlement,
  Json,
  LogRecord,
  RunStatus,
  SignalRequest,
} from "../src/store/mod.ts";
import type { RunLogStore } from "./run_store.ts";
import type { HostCallBody, SkillPin } from "./run_messages.ts";
import type { RunState } from "./run_reducer.ts";

/** Where a step's host calls go: answers already in the log, and a way to record new ones. */
export interface HostCallPort {
  readonly recorded: readonly HostCallBody[];
  /** Appends a new answer to the run's log; resolves once it is durable. */
  persist(call: HostCallBody): Promise<void>;
  /**
   * Resolves once every record of the run appended so far is durable (the
   * step's StepStarted with all before it): awaited before a call leaves
   * the process. Absent on replay, where nothing leaves.
   */
  barrier?: () => Promise<void>;
  /** Told when a recorded answer is served (replay counts them). */
  served?: (index: number) => void;
}

/** One execution of a step's skill. */
export interface StepExecution {
  run_id: string;
  step: string;
  attempt: number;
  pin: SkillPin;
  input: Json;
  hostCalls: HostCallPort;
  /** Aborted when the run no longer wants this outcome (cancelled, ended). */
  signal?: AbortSignal;
  /** The run submitter's W3C `traceparent`, propagated on outbound calls. */
  traceparent?: string | null;
}

/** How an execution ended; a skill failure is an outcome, not an exception. */
export type StepOutcome =
  | { ok: true; output: Json; output_sha256: string }
  | { ok: false; error: RecordedError };

/** Runs skills for run actors (the sandbox implements this). */
export interface StepExecutor {
  execute(execution: StepExecution): Promise<StepOutcome>;
  /**
   * True when an execution of `pin` can make nothing leave the process
   * (no outbound HTTP, SQL or other service; only recorded clock and
   * randomness answers): the run may start it while the StepStarted that
   * starts it is still being appended. Absent or false: it starts after.
   */
  staysInProcess?(pin: SkillPin): boolean;
}

/** The plan a planner made for a goal run, or why it could not. */
export type PlanOutcome =
  | { ok: true; plan: Plan; pins: Record<string, SkillPin>; planner: string }
  | { ok: false; error: RecordedError };

/** Makes plans for goal runs (the runtime implements it with the registry and the sandbox). */
export type GoalPlanner = (request: {
  run_id: string;
  goal: Goal;
  pin: SkillPin | undefined;
  hostCalls: HostCallPort;
}) => Promise<PlanOutcome>;

/** The tenant-day side of budget reservations (the budget ledger implements it). */
export interface BudgetPort {
  /**
   * The store's request to reserve `cents` of the tenant's current UTC day
   * for one attempt (idempotent per attempt), made by the append of the
   * attempt's BudgetReserved (`AppendOptions.reservation`).
   */
  request(request: AttemptReservation): BudgetReservationRequest;
  /**
   * An attempt's settlement (`charged_cents` spent, the rest freed;
   * idempotent), made by the append of its BudgetReleased.
   */
  settlement(request: AttemptSettlement): BudgetSettlement;
  /**
   * The booking of an attempt's charge without a reservation (idempotent
   * per attempt), made by the append of its unreserved BudgetCharged.
   */
  charge(request: AttemptCharge): BudgetCharge;
  /**
   * Settles the run's open reservations as its log says (released ones at
   * their charge, all of them once the run has ended); returns how many.
   */
  reconcile(runIds: readonly string[]): Promise<number>;
}

/** What a run actor needs from the shell. */
export interface RunActorDeps {
  /** The run's log, fenced by its lease (`fencedRunStore`). */
  store: RunLogStore;
  budget: BudgetPort;
  executor: StepExecutor;
  planner: GoalPlanner;
  clock: Clock;
  log: Logger;
  /**
   * Told about every record after it is durable and applied, in log order.
   * The records of a step's own continuations are appended without waiting
   * for the disk, so this may come after the actor has moved on.
   */
  onRecords?: (records: readonly LogRecord[], state: RunState) => void;
  /**
   * True while someone waits to hear of this run's records as they come (an
   * event stream, a record waiter): records appended without waiting for
   * the disk are then made durable at once (a barrier) rather than by the
   * run's next durable write.
   */
  observed?: () => boolean;
  /**
   * Told when the actor has handled its last queued message (the shell may
   * park the run then; see `parkedWake`).
   */
  onIdle?: (state: RunState) => void;
  /**
   * Told of a signal request the run ended without taking (it came after
   * the signal that ended the run, or the log had no room for it).
   */
  onSignalDropped?: (request: SignalRequest, status: RunStatus) => void;
  /** Size limits of the run's log and how often its state is snapshotted. */
  logLimits?: RunLogLimits;
  /**
   * The run's records, when this process created the run (its first record
   * and those decided with it) and starts it before anything else could be
   * appended: recovery need not read the log.
   */
  created?: readonly LogRecord[];
}
