/** Tenant-day budgets: reservations, charges and releases against the store. */
export {
  BudgetLedger,
  type BudgetLedgerOptions,
  type TenantDayBudget,
} from "./ledger.ts";
export { utcDay } from "./utc_day.ts";
