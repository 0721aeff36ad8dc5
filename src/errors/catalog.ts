import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "./codes.ts";

/** What the runtime does with a failure of this kind. */
export const ERROR_CATEGORIES = [
  "VALIDATION",
  "NOT_FOUND",
  "PERMANENT",
  "TRANSIENT",
  "TIMEOUT",
  "RATE_LIMIT",
  "RESOURCE",
  "AUTH",
  "BUDGET",
  "SANDBOX",
  "CONFLICT",
  "INTEGRITY",
  "DETERMINISM",
  "INTERNAL",
] as const;

export type ErrorCategory = typeof ERROR_CATEGORIES[number];

const entrySchema = z.object({
  category: z.enum(ERROR_CATEGORIES),
  http_status: z.number().int().min(400).max(599),
  retryable: z.boolean(),
  retry_hint: z.enum(["never", "immediate", "backoff", "retry_after"]),
  fix_hint: z.string().min(1),
}).strict();

/** One entry as `GET /v1/errors` lists it: its code and what it means. */
export const catalogEntrySchema = entrySchema.extend({
  code: z.enum(ERROR_CODES),
});

const catalogSchema = z.object({
  version: z.literal(1),
  codes: z.record(z.string().regex(/^[A-Z][A-Z0-9_]+$/), entrySchema),
}).strict();

/** One entry of the failure catalog. */
export type CatalogEntry = z.infer<typeof entrySchema> & { code: ErrorCode };

const CATALOG_URL = new URL("../../contracts/errors.yaml", import.meta.url);

/** Parses and validates catalog text; exported for the catalog's own tests. */
export function parseCatalog(text: string): Map<string, CatalogEntry> {
  const parsed = catalogSchema.parse(parseYaml(text));
  const entries = new Map<string, CatalogEntry>();
  for (const [code, entry] of Object.entries(parsed.codes)) {
    entries.set(code, { ...entry, code: code as ErrorCode });
  }
  return entries;
}

let loaded: Map<string, CatalogEntry> | undefined;

function catalog(): Map<string, CatalogEntry> {
  loaded ??= parseCatalog(Deno.readTextFileSync(CATALOG_URL));
  return loaded;
}

/** The catalog entry of a code; every `ErrorCode` has one (tested). */
export function catalogEntry(code: ErrorCode): CatalogEntry {
  const entry = catalog().get(code);
  if (entry === undefined) {
    throw new Error(`error code ${code} is missing from contracts/errors.yaml`);
  }
  return entry;
}

/** All catalog entries in the order of `ERROR_CODES`, as served by GET /v1/errors. */
export function catalogEntries(): CatalogEntry[] {
  return ERROR_CODES.map(catalogEntry);
}

/** The codes the catalog file lists, for the sync test. */
export function catalogCodes(): string[] {
  return [...catalog().keys()];
}
