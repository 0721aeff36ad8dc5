import type {
  BudgetAnswer,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
import type { LogRecord } from "./record.ts";
import type { ApiKeyRecord, TenantRecord } from "./tenant_records.ts";

/**
 * Where a run stands; every status but `running` is final. `partial`: the
 * run completed, but steps allowed to fail (`on_error: continue`) failed.
 */
export type RunStatus =
  | "running"
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

/** Filters and paging of `listRuns`; results are newest first. */
export interface RunListQuery {
  tenant?: string;
  status?: RunStatus;
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
  createRun(first: LogRecord, meta: { tenant: string }): Promise<void>;
  /**
   * Appends consecutive records of one run atomically, and sets the run's
   * status in the same transaction when `status` is given.
   */
  append(
    records: readonly LogRecord[],
    options?: { status?: RunStatus },
  ): Promise<void>;
  /** The run's records from `fromSeq` (default 0), in order. */
  readLog(runId: string, options?: { fromSeq?: number }): Promise<LogRecord[]>;
  getRun(runId: string): Promise<RunSummary | undefined>;
  listRuns(query: RunListQuery): Promise<RunPage>;
  /** Ids of every run that has not reached a final status, oldest first. */
  listUnfinishedRuns(): Promise<string[]>;
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
   * reserved + `cents` stays within `limit_cents` (one conditional update,
   * `UPDATE … WHERE spent + reserved + x <= limit`). A key already held
   * answers granted without reserving again, with the totals of the day it
   * was reserved on (which may precede `request.day`).
   */
  reserveBudget(request: BudgetReservationRequest): Promise<BudgetAnswer>;
  /**
   * Settles a reservation: its cents leave `reserved`, `chargedCents` join
   * `spent`. Settling a settled or unknown key changes nothing.
   */
  settleBudget(key: string, chargedCents: number): Promise<void>;
  /** A tenant's day (zeros when nothing was reserved that day). */
  budgetDay(tenant: string, day: string): Promise<BudgetDay>;
  /** The reservations of a tenant's day, settled ones included, by key. */
  budgetEntries(tenant: string, day: string): Promise<BudgetEntry[]>;
  /** Reservations not settled yet, of every tenant and day. */
  openBudgetEntries(): Promise<BudgetEntry[]>;
  /** True when the store answers; used by `/readyz`. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
