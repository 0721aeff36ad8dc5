import type { Clock, Logger } from "../deps/mod.ts";
import {
  type BudgetCharge,
  type BudgetEntry,
  type BudgetReservationRequest,
  type BudgetSettlement,
  isTerminal,
  type LogRecord,
  type Store,
} from "../store/mod.ts";
import { utcDay } from "./utc_day.ts";

/** Options of a `BudgetLedger`. */
export interface BudgetLedgerOptions {
  /** A tenant's daily limit when its record sets none (or it has no record). */
  dailyBudgetCentsDefault: number;
  clock: Clock;
  log: Logger;
}

/** A tenant's day as `GET /v1/tenants/me/budget` shows it. */
export interface TenantDayBudget {
  tenant: string;
  day: string;
  limit_cents: number;
  spent_cents: number;
  reserved_cents: number;
  remaining_cents: number;
}

/** One attempt's ask for part of its tenant's day. */
export interface AttemptReservation {
  run_id: string;
  tenant: string;
  step: string;
  attempt: number;
  cents: number;
}

/** The day's answer to a reservation, with its totals after it. */
export interface ReservationAnswer {
  granted: boolean;
  day: string;
  limit_cents: number;
  spent_cents: number;
  reserved_cents: number;
}

/** What an attempt finally cost; the rest of its reservation is freed. */
export interface AttemptSettlement {
  run_id: string;
  step: string;
  attempt: number;
  charged_cents: number;
}

/** What an attempt that reserved nothing reported it cost, and the day it is booked on. */
export interface AttemptCharge {
  run_id: string;
  tenant: string;
  step: string;
  attempt: number;
  cents: number;
  day: string;
}

/** The store key of an attempt's reservation (the same as the run reducer's). */
function entryKey(runId: string, step: string, attempt: number): string {
  return `${runId}/${step}/${attempt}`;
}

/**
 * Tenant-day budgets over the store: the shell side of a run's budget
 * records. Reservations are conditional updates in the store, so any number
 * of actors, on any number of nodes sharing the store, can never together
 * reserve past a tenant's limit.
 */
export class BudgetLedger {
  readonly #store: Store;
  readonly #options: BudgetLedgerOptions;

  constructor(store: Store, options: BudgetLedgerOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** The tenant's daily limit in cents. */
  async limitCents(tenant: string): Promise<number> {
    const record = await this.#store.getTenant(tenant);
    return record?.daily_budget_cents ??
      this.#options.dailyBudgetCentsDefault;
  }

  /**
   * Reserves an attempt's estimate against the tenant's current UTC day,
   * under the tenant's limit, which the store reads in the reservation.
   */
  async reserve(request: AttemptReservation): Promise<ReservationAnswer> {
    const answer = await this.#store.reserveBudget(this.request(request));
    return {
      granted: answer.granted,
      day: answer.day,
      limit_cents: answer.limit_cents,
      spent_cents: answer.spent_cents,
      reserved_cents: answer.reserved_cents,
    };
  }

  /**
   * The store's request for an attempt's reservation on the tenant's
   * current UTC day, for an append to carry (`AppendOptions.reservation`).
   */
  request(request: AttemptReservation): BudgetReservationRequest {
    return {
      key: entryKey(request.run_id, request.step, request.attempt),
      run_id: request.run_id,
      tenant: request.tenant,
      day: utcDay(this.#options.clock.nowMs()),
      cents: request.cents,
      default_limit_cents: this.#options.dailyBudgetCentsDefault,
    };
  }

  /** An attempt's settlement, for an append to carry (`AppendOptions.settlements`). */
  settlement(request: AttemptSettlement): BudgetSettlement {
    return {
      key: entryKey(request.run_id, request.step, request.attempt),
      charged_cents: request.charged_cents,
    };
  }

  /**
   * The store's booking of an attempt's charge without a reservation, for
   * an append to carry (`AppendOptions.charges`).
   */
  charge(request: AttemptCharge): BudgetCharge {
    return {
      key: entryKey(request.run_id, request.step, request.attempt),
      run_id: request.run_id,
      tenant: request.tenant,
      day: request.day,
      cents: request.cents,
    };
  }

  /** Settles an attempt's reservation. */
  settle(request: AttemptSettlement): Promise<void> {
    return this.#store.settleBudget(
      entryKey(request.run_id, request.step, request.attempt),
      request.charged_cents,
    );
  }

  /** The tenant's current UTC day. */
  async today(tenant: string): Promise<TenantDayBudget> {
    const day = utcDay(this.#options.clock.nowMs());
    const [limit_cents, use] = await Promise.all([
      this.limitCents(tenant),
      this.#store.budgetDay(tenant, day),
    ]);
    return {
      tenant,
      day,
      limit_cents,
      spent_cents: use.spent_cents,
      reserved_cents: use.reserved_cents,
      remaining_cents: Math.max(
        0,
        limit_cents - use.spent_cents - use.reserved_cents,
      ),
    };
  }

  /**
   * Settles the reservations a crash left open: the process died after a
   * run's log recorded BudgetReleased but before the store settled it, or
   * the run ended while the store was granting. Each open entry is settled
   * as its run's log says (the charge of its BudgetCharged, else 0); entries
   * of running runs whose log has not released them stay open. Returns how
   * many were settled.
   */
  async reconcile(runIds?: readonly string[]): Promise<number> {
    const open = (await this.#store.openBudgetEntries()).filter((entry) =>
      runIds === undefined || runIds.includes(entry.run_id)
    );
    const byRun = Map.groupBy(open, (entry) => entry.run_id);
    let settled = 0;
    for (const [runId, entries] of byRun) {
      const summary = await this.#store.getRun(runId);
      const records = await this.#store.readLog(runId);
      for (const entry of entries) {
        // A paused run still holds what its steps reserved; a run with no
        // summary never started (a fork whose records were not stored).
        const charged = settledCharge(
          records,
          entry,
          summary === undefined || isTerminal(summary.status),
        );
        if (charged === undefined) continue;
        await this.#store.settleBudget(entry.key, charged);
        settled++;
      }
    }
    if (settled > 0) {
      this.#options.log.log("info", "budget_reconciled", { settled });
    }
    return settled;
  }
}

/** What a log says an open entry was charged; undefined while it is still held. */
function settledCharge(
  records: readonly LogRecord[],
  entry: BudgetEntry,
  runEnded: boolean,
): number | undefined {
  let charged = 0;
  let released = false;
  for (const record of records) {
    if (!record.type.startsWith("Budget")) continue;
    const body = record.body as {
      step?: string;
      attempt?: number;
      cents?: number;
    };
    if (
      entryKey(entry.run_id, String(body.step), Number(body.attempt)) !==
        entry.key
    ) {
      continue;
    }
    if (record.type === "BudgetCharged") charged = Number(body.cents);
    if (record.type === "BudgetReleased") released = true;
  }
  return released || runEnded ? charged : undefined;
}
