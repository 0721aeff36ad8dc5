/**
 * A request to hold `cents` of a tenant's budget for one UTC day. `key`
 * names the reservation (`run/step/attempt`): asking again with a key the
 * store holds answers as the first time did, so an actor restarted between
 * the store's answer and the log's record repeats nothing.
 */
export interface BudgetReservationRequest {
  key: string;
  run_id: string;
  tenant: string;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  cents: number;
  /**
   * The day's limit when the tenant's record sets none (no record, or
   * `daily_budget_cents` null). The store reads the tenant's own limit in
   * the reservation itself, so asking costs no read of it beforehand; the
   * reservation is refused past the limit that applies.
   */
  default_limit_cents: number;
}

/**
 * A charge booked without a reservation: an attempt that reserved nothing
 * (it had no estimate) reported `cents`. Its entry is written settled
 * (reserved 0, charged `cents`) and the cents are added to the day's
 * spending. `key` names it as it would a reservation; booking a key the
 * store holds already changes nothing.
 */
export interface BudgetCharge {
  key: string;
  run_id: string;
  tenant: string;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  cents: number;
}

/** A tenant's use of one UTC day. */
export interface BudgetDay {
  tenant: string;
  day: string;
  /** Cents charged by finished steps. */
  spent_cents: number;
  /** Cents held by reservations not yet settled. */
  reserved_cents: number;
}

/** The store's answer to a reservation, with the day's totals after it. */
export interface BudgetAnswer extends BudgetDay {
  granted: boolean;
  /** The limit the reservation was held to (the tenant's, else the default). */
  limit_cents: number;
}

/** One reservation of the ledger. */
export interface BudgetEntry {
  key: string;
  run_id: string;
  tenant: string;
  day: string;
  reserved_cents: number;
  /** Cents charged when it was settled; null while it is open. */
  charged_cents: number | null;
}
