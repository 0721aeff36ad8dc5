import { Buffer } from "node:buffer";
import type { Context } from "hono";
import { timingSafeEqual } from "node:crypto";
import { AosError } from "../errors/mod.ts";
import { sha256Hex } from "../store/mod.ts";
import type { ApiKeyCache } from "../tenants/mod.ts";

/** Who a request acts as. */
export type Principal =
  | { role: "admin"; key_id: string }
  | { role: "tenant"; tenant: string; key_id: string };

/** What authentication consults. */
export interface AuthDeps {
  /** The store's keys, through the node's cache. */
  keys: Pick<ApiKeyCache, "find">;
  /** sha256 of the configured admin key (`AOS_ADMIN_KEY`), if any. */
  adminKeySha256: string | undefined;
}

declare module "hono" {
  interface ContextVariableMap {
    /** Set by `authenticate`, read by `principalOf`. */
    aosPrincipal: Principal;
  }
}

/**
 * Finds the principal of a request's key (`Authorization: Bearer <key>`).
 * Keys are looked up by their sha256, so the store never holds a key; the
 * configured admin key is compared as a digest in constant time. A revoked
 * key is unknown from the moment it is revoked on this node, and as soon as
 * the store's news of it arrives on the others (`ApiKeyCache`).
 */
export async function authenticate(c: Context, deps: AuthDeps): Promise<void> {
  const header = c.req.header("authorization");
  if (header === undefined || !/^Bearer\s+\S+$/i.test(header)) {
    throw new AosError(
      "AUTH_KEY_MISSING",
      "this route needs an API key as Authorization: Bearer <key>",
    );
  }
  const digest = sha256Hex(header.replace(/^Bearer\s+/i, ""));
  if (
    deps.adminKeySha256 !== undefined &&
    timingSafeEqual(
      Buffer.from(digest, "hex"),
      Buffer.from(deps.adminKeySha256, "hex"),
    )
  ) {
    c.set("aosPrincipal", { role: "admin", key_id: "config" });
    return;
  }
  const record = await deps.keys.find(digest);
  if (record === undefined) {
    throw new AosError("AUTH_KEY_INVALID", "the API key is unknown or revoked");
  }
  // On the request's context, not in a WeakMap keyed by the request: each
  // entry of a WeakMap is extra work for the garbage collector.
  c.set(
    "aosPrincipal",
    record.role === "admin" || record.tenant === null
      ? { role: "admin", key_id: record.key_id }
      : { role: "tenant", tenant: record.tenant, key_id: record.key_id },
  );
}

function principalOf(c: Context): Principal {
  const principal = c.get("aosPrincipal");
  if (principal === undefined) {
    throw new AosError("AUTH_KEY_MISSING", "this route needs an API key");
  }
  return principal;
}

/** Checks the request was made with an admin key. */
export function requireAdmin(c: Context): void {
  if (principalOf(c).role !== "admin") {
    throw new AosError(
      "AUTH_FORBIDDEN",
      "this route needs an admin key; a tenant key may not use it",
    );
  }
}

/** The tenant the request acts for; an admin key acts for none. */
export function tenantOf(c: Context): string {
  const principal = principalOf(c);
  if (principal.role !== "tenant") {
    throw new AosError(
      "AUTH_FORBIDDEN",
      "this route acts for a tenant; use a tenant's key, not an admin key",
    );
  }
  return principal.tenant;
}

/** Checks the request was made with any working key (tenant or admin). */
export function requireKey(c: Context): Principal {
  return principalOf(c);
}
