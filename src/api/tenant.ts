import type { Context } from "hono";

/** The tenant of requests that no authentication step has attributed. */
export const DEFAULT_TENANT = "default";

/**
 * The tenant a request acts for: what the authentication middleware put in
 * the context as `tenant`, or the default tenant when none did.
 */
export function tenantOf(c: Context): string {
  const tenant = (c.var as Record<string, unknown>).tenant;
  return typeof tenant === "string" && tenant.length > 0
    ? tenant
    : DEFAULT_TENANT;
}
