/** Tenant-day budgets: reservations, charges and releases against the store. */
export {
  type AttemptCharge,
  type AttemptReservation,
  type AttemptSettlement,
  BudgetLedger,
  type BudgetLedgerOptions,
  type ReservationAnswer,
  type TenantDayBudget,
} from "./ledger.ts";
export { utcDay } from "./utc_day.ts";
