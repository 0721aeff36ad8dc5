import type { RandomSource } from "../deps/mod.ts";
import type { ApiKeyRecord, Store } from "../store/mod.ts";
import { keyIdOf, keyRecord, newApiKey } from "./api_keys.ts";

/** The tenant bootstrap and development keys act for. */
export const DEFAULT_TENANT = "default";

/** What `bootstrapKeys` did. */
export type BootstrapResult =
  /** The store held keys already; nothing changed. */
  | { seeded: false }
  /** The given keys were stored. */
  | { seeded: true; generated: false }
  /** Nothing was given: fresh development keys were made; shown once. */
  | { seeded: true; generated: true; adminKey: string; tenantKey: string };

/**
 * Seeds a store that holds no API key: the given bootstrap keys (an admin
 * key, and a key of tenant `default`), or, when none is given, a fresh
 * admin and `default` key for development, returned so they can be shown.
 * Concurrent first starts seed once (the store checks emptiness atomically).
 */
export async function bootstrapKeys(
  store: Store,
  options: {
    adminKey?: string | undefined;
    tenantKey?: string | undefined;
    random: RandomSource;
    nowMs: number;
  },
): Promise<BootstrapResult> {
  const createdAt = options.nowMs;
  const given = options.adminKey !== undefined ||
    options.tenantKey !== undefined;
  const keys: ApiKeyRecord[] = [];
  let generated: { adminKey: string; tenantKey: string } | undefined;
  if (given) {
    if (options.adminKey !== undefined) {
      keys.push(keyRecord(options.adminKey, {
        role: "admin",
        tenant: null,
        createdAt,
        keyId: keyIdOf(options.adminKey),
      }));
    }
    if (options.tenantKey !== undefined) {
      keys.push(keyRecord(options.tenantKey, {
        role: "tenant",
        tenant: DEFAULT_TENANT,
        createdAt,
        keyId: keyIdOf(options.tenantKey),
      }));
    }
  } else {
    const admin = newApiKey(options.random, {
      role: "admin",
      tenant: null,
      createdAt,
    });
    const tenant = newApiKey(options.random, {
      role: "tenant",
      tenant: DEFAULT_TENANT,
      createdAt,
    });
    keys.push(admin.record, tenant.record);
    generated = { adminKey: admin.key, tenantKey: tenant.key };
  }
  const seeded = await store.seedApiKeys(
    [{ id: DEFAULT_TENANT, created_at: createdAt, daily_budget_cents: null }],
    keys,
  );
  if (!seeded) return { seeded: false };
  return generated === undefined
    ? { seeded: true, generated: false }
    : { seeded: true, generated: true, ...generated };
}
