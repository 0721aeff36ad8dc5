import type {
  BudgetAnswer,
  BudgetCharge,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { Json, JsonObject } from "./canonical_json.ts";
import type { LogRecord } from "./record.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

/**
 * Where a run stands; every status but `running` and `paused` is final.
 * `partial`: the run completed, but steps allowed to fail
 * (`on_error: continue`) failed. `paused`: the run waits to be resumed.
 */
export type RunStatus =
  | "running"
  | "paused"
  | "succeeded"
  | "partial"
  | "failed"
  | "cancelled";

/** Statuses after which a run's log never grows again. */
export const TERMINAL_STATUSES: readonly RunStatus[] = [
  "succeeded",
  "partial",
  "failed",
  "cancelled",
];

/** True when a run in `status` is finished. */
export function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The run index: one row a run, kept in step with its log by `append`. */
export interface RunSummary {
  run_id: string;
  tenant: string;
  status: RunStatus;
  created_at: number;
  updated_at: number;
  /** Sequence number of the last record. */
  last_seq: number;
  /** Hash of the last record: the run's digest. */
  digest: string;
}

/**
 * A run's folded state as of record `seq` (whose hash is `hash`), so that
 * recovery folds only the records after it. `version` is the state format;
 * a reader ignores snapshots of another version and folds the whole log.
 */
export interface RunSnapshot {
  run_id: string;
  seq: number;
  hash: string;
  /** Bytes of the log up to and including `seq`. */
  log_bytes: number;
  version: number;
  state: Record<string, unknown>;
}

/** Filters and paging of `listRuns`; results are newest first. */
export interface RunListQuery {
  tenant?: string;
  status?: RunStatus;
  /** Only runs that pinned this skill (by name) when they were created. */
  skill?: string;
  /** Only runs created at or after this time (ms since the epoch). */
  createdFromMs?: number;
  /** Only runs created before this time (ms since the epoch). */
  createdBeforeMs?: number;
  /** At most this many runs (1..1000). */
  limit: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

/** One page of runs. */
export interface RunPage {
  runs: RunSummary[];
  next_cursor: string | null;
}

/** What `createRun` records besides the first record. */
export interface RunMeta {
  tenant: string;
  /** Names of the skills the run pinned at submission (the `skill` filter of `listRuns`). */
  skills?: readonly string[];
  /**
   * Completes the pending idempotency claim `key` of this tenant with
   * `response`, in the same transaction that creates the run: a key never
   * points at a run that does not exist, and an accepted run is never
   * without its key. Refused with IDEMPOTENCY_KEY_IN_PROGRESS when the claim
   * with this fingerprint is no longer pending (it expired and another
   * request took the key over).
   */
  idempotency?: { key: string; fingerprint: string; response: JsonObject };
  /**
   * Creates the run already held by `owner` until `expires_at`, at epoch 1
   * (what its first claim would give it): the submitting node runs it
   * without a claim, that is without one more write on the way to its
   * first step. Absent, the run is created unheld for any node to claim.
   */
  lease?: { owner: string; expires_at: number };
  /**
   * Records the run decided as it was submitted, consecutive after the
   * first (its first steps' StepStarted): written with it, in the same
   * transaction, so the run's index row ends at the last of them.
   */
  decided?: readonly LogRecord[];
  /**
   * Back-pressure: the run is refused with RUN_QUEUE_FULL (details
   * `unfinished`, `unfinished_max`), nothing written, when this many runs
   * or more are unfinished (running or paused, parked ones included). The
   * count is taken by the statement (transaction) that creates the run, so
   * the check costs no read of its own.
   */
  unfinishedMax?: number;
}

/** A claim on an idempotency key (`Idempotency-Key` of `POST /v1/runs`). */
export interface IdempotencyClaim {
  tenant: string;
  key: string;
  /** sha256 of the request as the server understood it. */
  fingerprint: string;
  nowMs: number;
  /** A pending claim older than this is abandoned (its request died) and may be taken over. */
  lockedUntilMs: number;
  /** When the key is forgotten and may be used afresh. */
  expiresAtMs: number;
}

/** What the store holds for a key that was already claimed. */
export interface IdempotencyEntry {
  fingerprint: string;
  /** `pending` while the first request is being accepted. */
  state: "pending" | "completed";
  run_id: string | null;
  /** The response the first request got; null while pending. */
  response: JsonObject | null;
  created_at: number;
  expires_at: number;
}

/** A skill version known to the registry. */
export interface SkillRecord {
  name: string;
  version: string;
  sha256: string;
  /** The manifest as installed, JSON. */
  manifest: Record<string, unknown>;
  installed_at: number;
}

/**
 * A node's hold on a run. Only the holder of the current `epoch` may append
 * to the run: a node that lost its lease (it stalled past `expires_at` and
 * another node claimed the run) has its appends refused by the store with
 * `STORE_LEASE_LOST`, whatever the node believes.
 */
export interface Lease {
  run_id: string;
  /** The node holding the run. */
  owner: string;
  /** Grows by one at every claim; appends are fenced by it. */
  epoch: number;
  /** Until when the lease holds unless renewed (ms since the epoch). */
  expires_at: number;
}

/** What a lease operation is told about time and duration. */
export interface LeaseTiming {
  /** The claimer's clock now (ms). */
  nowMs: number;
  /** How long the lease holds from `nowMs` without a renewal. */
  leaseMs: number;
}

/** Options of `Store.append`. */
export interface AppendOptions {
  /** The run's status after the append, set in the same transaction. */
  status?: RunStatus;
  /** The lease epoch the append is fenced with. */
  epoch?: number;
  /**
   * False: the append resolves once committed (visible to readers), before
   * it is on disk; the next durable write or `syncBarrier` of the handle
   * makes it durable (the log is synced as a whole). Only for records that
   * nothing outside the process depends on until such a barrier, because a
   * crash before it loses them (docs/ARCHITECTURE.md, "Durable before
   * observed"). Default true: resolves once on disk.
   */
  durable?: boolean;
  /**
   * The reservation the records act on (their BudgetReserved), made in the
   * same transaction: the records are written only when it is granted on
   * `reservation.day` (newly, or held already on that day). Otherwise
   * nothing is written (a reservation made is kept, as `reserveBudget`
   * would keep it) and the append throws `ReservationNotGranted` with the
   * store's answer, from which the run records what it was told instead.
   */
  reservation?: BudgetReservationRequest;
  /**
   * Reservations the records release (their BudgetReleased), settled as
   * `settleBudget` would in the same transaction, only when the records
   * are written: no window in which the release is logged and the ledger
   * not settled.
   */
  settlements?: readonly BudgetSettlement[];
  /**
   * Charges the records book without a reservation (their unreserved
   * BudgetCharged), made with the append. A store may book them before it
   * writes the records, in a write of their own: booking is idempotent by
   * key, and the run books again (changing nothing) when it appends again.
   */
  charges?: readonly BudgetCharge[];
  /**
   * Ids of the run's signal requests (`requestSignal`) and resume request
   * (`requestResume`) the records deliver: the run's log holds their
   * SignalReceived or RunResumed with this append. Those still waiting are
   * dropped in the same transaction, so a request is never both recorded
   * and waiting. An append that ends the run (a terminal `status`)
   * is refused with STORE_SIGNALS_WAITING, writing nothing, while any
   * other request waits for the run: a signal a sender was told waits is
   * recorded before the end.
   */
  delivers?: readonly string[];
}

/** A reservation settled with an append (`AppendOptions.settlements`). */
export interface BudgetSettlement {
  key: string;
  charged_cents: number;
}

/**
 * An append whose reservation (`AppendOptions.reservation`) was not granted
 * as asked: refused by the tenant's day, or its key held on another day.
 * Nothing of the append was written; `answer` is what `reserveBudget` would
 * have answered.
 */
export class ReservationNotGranted extends Error {
  readonly answer: BudgetAnswer;

  constructor(key: string, answer: BudgetAnswer) {
    super(
      answer.granted
        ? `reservation ${key} is held on ${answer.day}`
        : `reservation ${key} refused on ${answer.day}`,
    );
    this.name = "ReservationNotGranted";
    this.answer = answer;
  }
}

/** A record a run's log must hold, for `Store.syncBarrier`. */
/**
 * A signal sent through a node that does not hold the run, waiting in the
 * store for the node that does. `id` comes into the run's log with it
 * (SignalReceived `request`), so it is recorded once.
 */
export interface SignalRequest {
  id: string;
  run_id: string;
  name: string;
  payload: Json;
}

/**
 * A resume sent through a node that does not hold the paused run, waiting
 * in the store for the node that does. `id` comes into the run's log with
 * it (RunResumed `request`), whose append delivers it.
 */
export interface ResumeRequest {
  id: string;
  run_id: string;
  body: { step?: string; params?: JsonObject; budget_cents?: number };
}

export interface LogMark {
  run_id: string;
  seq: number;
  hash: string;
  /** The lease epoch the record was appended under, when fenced. */
  epoch?: number;
}

/**
 * Commits of one store handle, counted in the order they were made:
 * `committed` made so far, the first `durable` of them known to be on disk,
 * and `syncs` the log syncs (SQLite `fdatasync`s of the WAL; PostgreSQL
 * commits and barriers that waited for a WAL flush) waited on so far.
 */
export interface DurabilityWatermark {
  committed: number;
  durable: number;
  syncs: number;
}

/**
 * Everything AOS keeps durably. Implementations (SQLite, PostgreSQL) pass
 * the one conformance suite in `store_contract.ts`.
 *
 * Appends are optimistic: the first record's `seq` is the sequence the writer
 * expects next and `prev` the hash it expects last. When another writer got
 * there first the append is refused with `STORE_SEQUENCE_CONFLICT` and
 * nothing is written, so two writers can never both extend one run.
 */
export interface Store {
  /** Starts a run: writes its first record (seq 0) and its index row. */
  createRun(first: LogRecord, meta: RunMeta): Promise<void>;
  /**
   * Appends consecutive records of one run atomically, and sets the run's
   * status in the same transaction when `status` is given. With `epoch`, the
   * append is fenced: refused with `STORE_LEASE_LOST` (nothing written)
   * unless the run's lease epoch is still `epoch`. A final status ends the
   * run's lease.
   */
  append(
    records: readonly LogRecord[],
    options?: AppendOptions,
  ): Promise<void>;
  /**
   * The durability barrier: resolves once every write this handle committed
   * before the call is on disk (at no cost when all already are). With
   * `mark`, it also makes sure that record is still in the run's log (a
   * database that restarted may have lost a commit answered before its
   * flush), and fails with STORE_SEQUENCE_CONFLICT when it is not.
   */
  syncBarrier(mark?: LogMark): Promise<void>;
  /**
   * Resolves once the first `committed` commits of this handle (a count read
   * from `durability()`) are on disk, without causing a sync: a later
   * durable write or barrier does. Rejects when they may have been lost.
   */
  whenDurable(committed: number): Promise<void>;
  /** This handle's durability watermark (see `DurabilityWatermark`). */
  durability(): DurabilityWatermark;
  /** The run's records from `fromSeq` (default 0), in order. */
  readLog(runId: string, options?: { fromSeq?: number }): Promise<LogRecord[]>;
  getRun(runId: string): Promise<RunSummary | undefined>;
  listRuns(query: RunListQuery): Promise<RunPage>;
  /**
   * Claims an idempotency key for a tenant. A key that is absent, expired,
   * or pending past its lock is claimed (`{ claimed: true }`, state
   * pending); otherwise the entry it has is returned untouched, for the
   * caller to compare fingerprints. Expired keys are deleted on the way.
   */
  claimIdempotencyKey(
    claim: IdempotencyClaim,
  ): Promise<{ claimed: true } | { claimed: false; entry: IdempotencyEntry }>;
  /**
   * Completes a pending claim with the response its request got, for a
   * request that creates no run (a signal: `run_id` is the run it went
   * to). Refused with IDEMPOTENCY_KEY_IN_PROGRESS when the claim with this
   * fingerprint is no longer pending (it expired and another request took
   * the key over).
   */
  completeIdempotencyKey(completion: {
    tenant: string;
    key: string;
    fingerprint: string;
    run_id: string;
    response: JsonObject;
  }): Promise<void>;
  /** Gives up a pending claim (its request was refused), so the key may be used again. */
  releaseIdempotencyKey(
    tenant: string,
    key: string,
    fingerprint: string,
  ): Promise<void>;
  /** Ids of every run that has not reached a final status, oldest first. */
  listUnfinishedRuns(): Promise<string[]>;
  /** How many runs have not reached a final status, paused ones included (the back-pressure measure). */
  countUnfinishedRuns(): Promise<number>;
  /**
   * Claims up to `limit` running or paused runs that no node holds (never leased,
   * released, or whose lease expired), oldest first, for `owner`: each
   * claim raises the run's epoch. Concurrent claimers never get the same
   * run. Runs `owner` holds already are left alone (see `releaseLeases`).
   */
  claimRuns(
    owner: string,
    options: LeaseTiming & {
      limit: number;
      /**
       * The runs' clock now (ms), which parked runs' wake times are on;
       * `nowMs` when absent. Parked runs are claimed once their wake time
       * is at or before it, never before.
       */
      wakeNowMs?: number;
    },
  ): Promise<Lease[]>;
  /**
   * Claims one run for `owner` when no node holds it, parked or not (a
   * message for it arrived at `owner`); raises its epoch and unparks it.
   * Undefined when another node holds it, `owner` holds it already, or the
   * run is unknown or ended.
   */
  claimRun(
    owner: string,
    runId: string,
    timing: LeaseTiming,
  ): Promise<Lease | undefined>;
  /**
   * Parks a run its holder has nothing to do for until `wakeAt` (ms on the
   * runs' clock; null when only a message can wake it): gives the lease up
   * and raises the epoch (so nothing written under the old one lands),
   * records the wake time, and tells the nodes when there is one. A parked
   * run is claimed only once due (`claimRuns`) or for a message
   * (`claimRun`, `requestCancel`). Refused (false, nothing changed) when
   * the lease is no longer at `epoch` or a cancel request waits.
   */
  parkRun(
    lease: { run_id: string; epoch: number },
    options: { wakeAt: number | null },
  ): Promise<boolean>;
  /** The earliest wake time of a parked run; undefined when none waits on a time. */
  nextWakeAt(): Promise<number | undefined>;
  /**
   * Extends the leases `owner` still holds at the given epochs; returns the
   * renewed ones. A lease missing from the answer was lost.
   */
  renewLeases(
    owner: string,
    leases: readonly { run_id: string; epoch: number }[],
    timing: LeaseTiming,
  ): Promise<Lease[]>;
  /** Gives a lease up (when it is still at `epoch`) so another node may claim the run at once. */
  releaseLease(lease: { run_id: string; epoch: number }): Promise<void>;
  /**
   * Gives up every lease `owner` holds: a node starting under a stable name
   * releases what its previous process held, then claims as usual.
   */
  releaseLeases(owner: string): Promise<void>;
  /**
   * The lease of a run; undefined for an unknown run. A run nobody ever
   * claimed, or one released, has no `owner` (empty string).
   */
  getLease(runId: string): Promise<Lease | undefined>;
  /**
   * Records a request to cancel a running run, for whichever node holds it
   * (it finds the request through `pendingCancels`; a parked run becomes
   * claimable at once), and wakes the nodes.
   * False when the run is unknown or has ended.
   */
  requestCancel(runId: string, reason: string): Promise<boolean>;
  /** Cancel requests on running runs that `owner` holds. */
  pendingCancels(owner: string): Promise<{ run_id: string; reason: string }[]>;
  /**
   * Leaves a signal for whichever node holds the run (it finds the request
   * through `pendingSignals`), makes a parked run claimable at once, and
   * wakes the nodes. While a request waits the run does not park (`parkRun`
   * is refused). False (nothing stored) when the run is unknown or has
   * ended; a request id already stored is refused by the store.
   */
  requestSignal(request: SignalRequest): Promise<boolean>;
  /** Signal requests on unfinished runs that `owner` holds, oldest first. */
  pendingSignals(owner: string): Promise<SignalRequest[]>;
  /**
   * The signal requests waiting for `runId`, oldest first, whoever holds
   * it: what its actor records before it ends the run (an append that ends
   * a run is refused with STORE_SIGNALS_WAITING while one waits).
   */
  waitingSignals(runId: string): Promise<SignalRequest[]>;
  /** Whether the request still waits (neither delivered nor dropped). */
  signalRequestWaiting(id: string): Promise<boolean>;
  /**
   * Leaves a resume for whichever node holds the paused run (it finds it
   * through `pendingResumes`), makes the run claimable if parked, and wakes
   * the nodes; a run does not park while its resume waits. False (nothing
   * stored) when the run is unknown, not paused, or has a resume waiting.
   */
  requestResume(request: ResumeRequest): Promise<boolean>;
  /** Resume requests on paused runs that `owner` holds. */
  pendingResumes(owner: string): Promise<ResumeRequest[]>;
  /** Whether the run's resume request `id` still waits. */
  resumeRequestWaiting(runId: string, id: string): Promise<boolean>;
  /** Removes the run's resume request `id`; false when it was gone already. */
  dropResumeRequest(runId: string, id: string): Promise<boolean>;
  /**
   * Removes a request: delivered (its SignalReceived is durable in the
   * run's log) or given up by its sender. False when it was gone already.
   */
  dropSignalRequest(id: string): Promise<boolean>;
  /**
   * Calls `listener` whenever a run may have become claimable (a new run
   * not created held, a released lease) or was asked to cancel, also when another process
   * sharing the store caused it.
   * Best effort: a missed wake-up is covered by polling `claimRuns`.
   * Returns a function that stops listening.
   */
  onRunnable(listener: () => void): () => void;
  /** Stores module bytes under their sha256 (a no-op when already stored). */
  putModule(sha256: string, bytes: Uint8Array): Promise<void>;
  getModule(sha256: string): Promise<Uint8Array | undefined>;
  /**
   * Records that `name@version` is the module `sha256`, unless that name and
   * version exist already: versions are immutable. Returns the record the
   * store holds for `name@version` afterwards (the caller compares hashes).
   */
  putSkill(skill: SkillRecord): Promise<SkillRecord>;
  listSkills(): Promise<SkillRecord[]>;
  /** Adds a tenant; STORE_TENANT_EXISTS when its id is taken. */
  createTenant(tenant: TenantRecord): Promise<void>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  /** Every tenant, by id. */
  listTenants(): Promise<TenantRecord[]>;
  /**
   * Stores a key. With `revokeOthers` every other working key of the same
   * tenant is revoked at `key.created_at` in the same transaction (rotation).
   */
  putApiKey(
    key: ApiKeyRecord,
    options?: { revokeOthers?: boolean },
  ): Promise<void>;
  /** The working (not revoked) key whose sha256 is `sha256`. */
  findApiKey(sha256: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Calls `listener` when keys may have stopped working: a key was revoked
   * or a tenant's keys rotated, by this store (before the call that did it
   * resolves) or by another process sharing the store (once the news
   * arrives), or such news may have been missed (the store's notification
   * connection was lost and made again). For caches of `findApiKey`.
   * Returns a function that stops listening.
   */
  onApiKeysRevoked(listener: () => void): () => void;
  /** A tenant's keys, revoked ones included, oldest first. */
  listApiKeys(tenant: string): Promise<ApiKeyRecord[]>;
  /** Revokes a key at `at`; returns it as stored afterwards, undefined when unknown. */
  revokeApiKey(keyId: string, at: number): Promise<ApiKeyRecord | undefined>;
  /**
   * Seeds a store that holds no API key at all: creates the tenants (those
   * that exist are kept) and stores the keys, atomically. Returns false and
   * changes nothing when any key exists, so concurrent first starts seed once.
   */
  seedApiKeys(
    tenants: readonly TenantRecord[],
    keys: readonly ApiKeyRecord[],
  ): Promise<boolean>;
  /**
   * Reserves budget atomically: granted only while the day's spent +
   * reserved + `cents` stays within the tenant's daily limit (its record's
   * `daily_budget_cents`, else `default_limit_cents`; one conditional update,
   * `UPDATE … WHERE spent + reserved + x <= limit`). A key already held
   * answers granted without reserving again, with the totals of the day it
   * was reserved on (which may precede `request.day`). The answer may come
   * once the reservation is committed, before it is on disk: the run acts on
   * it only through its BudgetReserved append, which is durable only once
   * everything committed before it is.
   */
  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer>;
  /**
   * Settles a reservation: its cents leave `reserved`, `chargedCents` join
   * `spent`. Settling a settled or unknown key changes nothing. Like a
   * reservation, it may answer before it is on disk: the log's
   * BudgetReleased, durable before the settlement starts, lets the next start
   * settle it again (`BudgetLedger.reconcile`).
   */
  settleBudget(key: string, chargedCents: number): Promise<void>;
  /** A tenant's day (zeros when nothing was reserved that day). */
  budgetDay(tenant: string, day: string): Promise<BudgetDay>;
  /** The reservations of a tenant's day, settled ones included, by key. */
  budgetEntries(tenant: string, day: string): Promise<BudgetEntry[]>;
  /** Reservations not settled yet, of every tenant and day. */
  openBudgetEntries(): Promise<BudgetEntry[]>;
  /**
   * Keeps `snapshot` as the run's latest (replacing an older one). Optional:
   * a store without snapshots recovers runs from their whole log.
   */
  putSnapshot?(snapshot: RunSnapshot): Promise<void>;
  /** The run's latest snapshot, if any. */
  getSnapshot?(runId: string): Promise<RunSnapshot | undefined>;
  /** True when the store answers; used by `/readyz`. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
