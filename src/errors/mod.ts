/** The failure catalog and the error type every AOS failure is reported as. */
export {
  AosError,
  type AosErrorOptions,
  type ErrorDetails,
  type ErrorJson,
  type RecordedError,
  toAosError,
} from "./aos_error.ts";
export {
  catalogEntries,
  type CatalogEntry,
  catalogEntry,
  catalogEntrySchema,
  ERROR_CATEGORIES,
  type ErrorCategory,
} from "./catalog.ts";
export { ERROR_CODES, type ErrorCode, isErrorCode } from "./codes.ts";
