import type { StatementSync } from "node:sqlite";
import { AosError } from "../errors/mod.ts";
import type { LogRecord } from "./record.ts";
import { recordToLine } from "./record.ts";
import type { RunStatus } from "./store.ts";
import { isTerminal } from "./store.ts";
import {
  assertConsecutive,
  leaseLost,
  sequenceConflict,
  signalsWaiting,
} from "./_append_checks.ts";
import type { DeferredRows } from "./_group_commit.ts";

type Row = Record<string, unknown>;

/**
 * Records per INSERT statement at most. A statement costs about as much as
 * ten more rows in it; one per size up to this is prepared.
 */
const ROWS_PER_INSERT = 32;

/** Values bound per record row: run_id, seq, line. */
const VALUES_PER_ROW = 3;

// The checks of an append (expected sequence, previous hash, fencing
// epoch) are conditions of the UPDATE of the run's row, so a refused append
// changes nothing and needs no savepoint; only then is the row read, to say
// why. An append that does not change the status leaves `status` out of the
// SET list: SQLite rewrites the entries of every index on a column the SET
// list names (four on `status`), changed or not.
const ADVANCE = `UPDATE runs SET last_seq = ?, digest = ?, updated_at = ?
  WHERE run_id = ? AND last_seq = ? AND digest = ? AND (? IS NULL OR lease_epoch = ?)`;
const ADVANCE_STATUS =
  `UPDATE runs SET last_seq = ?, digest = ?, updated_at = ?, status = ?
  WHERE run_id = ? AND last_seq = ? AND digest = ? AND (? IS NULL OR lease_epoch = ?)`;
// A run that ended holds no lease, and it ends only once no signal
// request waits for it but those the append delivers (the last parameter).
const ADVANCE_TO_END =
  `UPDATE runs SET last_seq = ?, digest = ?, updated_at = ?, status = ?,
    lease_owner = '', lease_expires_at = 0
  WHERE run_id = ? AND last_seq = ? AND digest = ? AND (? IS NULL OR lease_epoch = ?)
    AND signals_waiting <= ?`;

/**
 * The log writes of the SQLite store: run creation and appends, run inside
 * the store's group commit. Each checks before it writes, so a refusal
 * (a run that exists, a sequence conflict, a lost lease) throws having
 * written nothing: the group runs them without a savepoint. Their records
 * wait for the end of the group (`DeferredRows`), which inserts those of
 * every write in a few statements: the run's row, updated at once, is
 * what a later write of the group checks.
 */
export class SqliteAppends implements DeferredRows {
  readonly #statement: (sql: string) => StatementSync;
  #deferring = false;
  /** The values of the rows waiting, `VALUES_PER_ROW` a row. */
  #values: (string | number)[] = [];

  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  /**
   * Inserts a run's row and first records (the first, then those decided
   * with it); throws STORE_RUN_EXISTS, having written nothing, when the
   * run exists.
   */
  create(
    records: readonly LogRecord[],
    lease: { owner: string; expires_at: number } | undefined,
    tenant: string,
  ): void {
    const first = assertConsecutive(records);
    if (first.seq !== 0) throw sequenceConflict(first.run_id, 0, first.seq);
    const last = records[records.length - 1]!;
    const inserted = this.#statement(
      "INSERT INTO runs (run_id, tenant, status, created_at, updated_at, last_seq, digest, lease_owner, lease_epoch, lease_expires_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
    ).run(
      first.run_id,
      tenant,
      first.at,
      last.at,
      last.seq,
      last.hash,
      lease?.owner ?? "",
      lease === undefined ? 0 : 1,
      lease?.expires_at ?? 0,
    );
    if (Number(inserted.changes) !== 1) {
      throw new AosError("STORE_RUN_EXISTS", `run ${first.run_id} exists`, {
        details: { run_id: first.run_id },
      });
    }
    this.insertRecords(records);
  }

  /**
   * `Store.append`, inside a transaction. `delivered`: how many of the
   * signal requests waiting for the run the append delivers (its end may
   * leave those waiting; the caller drops them once it is written).
   */
  append(
    records: readonly LogRecord[],
    options: { status?: RunStatus; epoch?: number },
    delivered = 0,
  ): void {
    const first = assertConsecutive(records);
    const last = records[records.length - 1]!;
    const status = options.status;
    const epoch = options.epoch ?? null;
    const checks = [first.run_id, first.seq - 1, first.prev, epoch, epoch];
    const advanced = status === undefined
      ? this.#statement(ADVANCE).run(last.seq, last.hash, last.at, ...checks)
      : isTerminal(status)
      ? this.#statement(ADVANCE_TO_END)
        .run(last.seq, last.hash, last.at, status, ...checks, delivered)
      : this.#statement(ADVANCE_STATUS)
        .run(last.seq, last.hash, last.at, status, ...checks);
    if (Number(advanced.changes) !== 1) {
      throw this.#refusal(first, options, delivered);
    }
    this.insertRecords(records);
  }

  /** Why an append was refused, read from the run's row. */
  #refusal(
    first: LogRecord,
    options: { epoch?: number },
    delivered: number,
  ): AosError {
    const head = this.#statement(
      "SELECT last_seq, digest, lease_epoch, signals_waiting FROM runs WHERE run_id = ?",
    ).get(first.run_id) as Row | undefined;
    if (head === undefined) {
      return new AosError("RUN_NOT_FOUND", `run ${first.run_id} not found`, {
        details: { run_id: first.run_id },
      });
    }
    const epoch = Number(head.lease_epoch);
    if (options.epoch !== undefined && options.epoch !== epoch) {
      return leaseLost(first.run_id, options.epoch, epoch);
    }
    // The head matches, yet nothing was written: only an end held back by
    // waiting signal requests is refused so.
    const waiting = Number(head.signals_waiting) - delivered;
    if (
      waiting > 0 && Number(head.last_seq) === first.seq - 1 &&
      head.digest === first.prev
    ) return signalsWaiting(first.run_id, waiting);
    return sequenceConflict(first.run_id, Number(head.last_seq) + 1, first.seq);
  }

  begin(deferring: boolean): void {
    this.#deferring = deferring;
    this.#values = [];
  }

  mark(): number {
    return this.#values.length;
  }

  truncate(mark: number): void {
    this.#values.length = mark;
  }

  flush(): void {
    const values = this.#values;
    this.#deferring = false;
    this.#values = [];
    this.#insert(values);
  }

  /** Inserts records now, or at the end of the group when it defers them. */
  insertRecords(records: readonly LogRecord[]): void {
    const values = this.#deferring ? this.#values : [];
    for (const record of records) {
      values.push(record.run_id, record.seq, recordToLine(record));
    }
    if (!this.#deferring) this.#insert(values);
  }

  #insert(values: readonly (string | number)[]): void {
    const perStatement = ROWS_PER_INSERT * VALUES_PER_ROW;
    for (let start = 0; start < values.length; start += perStatement) {
      const chunk = values.slice(start, start + perStatement);
      this.#statement(insertSql(chunk.length / VALUES_PER_ROW)).run(...chunk);
    }
  }
}

const insertSqls: string[] = [];

function insertSql(rows: number): string {
  return insertSqls[rows] ??= `INSERT INTO records (run_id, seq, line) VALUES ${
    Array.from({ length: rows }, () => "(?, ?, ?)").join(", ")
  }`;
}
