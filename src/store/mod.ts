/** The durable store: run logs, the run index, the skill registry, tenants, keys and budgets. */
export {
  canonicalizeText,
  canonicalJson,
  firstNotJson,
  type Json,
  type JsonObject,
  type NotJson,
  sameCanonicalJson,
} from "./canonical_json.ts";
export {
  type ChainBreak,
  emptyHead,
  GENESIS_HASH,
  headAfter,
  type LogHead,
  type LogRecord,
  RECORD_FORMAT_VERSION,
  recordFromLine,
  recordLineBytes,
  recordToLine,
  sealRecord,
  sha256Hex,
  type UnsealedRecord,
  utf8ByteLength,
  verifyChain,
} from "./record.ts";
export type {
  BudgetAnswer,
  BudgetCharge,
  BudgetDay,
  BudgetEntry,
  BudgetReservationRequest,
} from "./budget_records.ts";
export type {
  ApiKeyRecord,
  ApiKeyRole,
  TenantRecord,
} from "./tenant_records.ts";
export { SqliteStore, type SqliteStoreOptions } from "./sqlite_store.ts";
export type { PostgresStoreOptions } from "./postgres_store.ts";
export {
  migratePostgres,
  openPostgresStore,
  PostgresStore,
} from "./postgres_open.ts";
export {
  type AppendOptions,
  type BudgetSettlement,
  type DurabilityWatermark,
  isTerminal,
  type Lease,
  type LeaseTiming,
  type LogMark,
  ReservationNotGranted,
  type ResumeRequest,
  type RunListQuery,
  type RunPage,
  type RunSnapshot,
  type RunStatus,
  type RunSummary,
  type SignalRequest,
  type SkillRecord,
  type Store,
  TERMINAL_STATUSES,
} from "./store.ts";
